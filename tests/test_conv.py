"""conv2d and conv_transpose2d: shapes, a direct-loop reference, first and second
derivatives, adjointness, and every rejected argument.

Hypothesis draws whole configurations (batch, channels, groups, size, kernel,
stride, padding, dilation, output_padding, bias); sizes stay tiny so that
element-by-element gradcheck is quick.
"""
import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import minigan
from minigan import functional as F
from helpers import SLOW_ON_THE_EMULATOR, check_op


# ---- references: direct loops over output pixels, no im2col ----
def conv2d_reference(x, W, b, stride, padding, dilation, groups):
    (sy, sx), (py, px), (dy, dx) = stride, padding, dilation
    n, c, h, w = x.shape
    c_out, c_g, kh, kw = W.shape
    xp = np.zeros((n, c, h + 2 * py, w + 2 * px))
    xp[:, :, py:py + h, px:px + w] = x
    # a window fits where its last tap is still inside the padded input
    rows = range(0, xp.shape[2] - dy * (kh - 1), sy)
    cols = range(0, xp.shape[3] - dx * (kw - 1), sx)
    y = np.zeros((n, c_out, len(rows), len(cols)))
    for o in range(c_out):
        g = o // (c_out // groups)
        for i, top in enumerate(rows):
            for j, left in enumerate(cols):
                patch = xp[:, g * c_g:(g + 1) * c_g, top:top + dy * (kh - 1) + 1:dy,
                           left:left + dx * (kw - 1) + 1:dx]            # (N, C/G, kH, kW)
                y[:, o, i, j] = (patch * W[o]).sum(axis=(1, 2, 3))
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_transpose2d_reference(x, W, b, stride, padding, output_padding, dilation, groups):
    (sy, sx), (py, px), (oy, ox), (dy, dx) = stride, padding, output_padding, dilation
    n, c, h, w = x.shape
    _, c_out_g, kh, kw = W.shape
    c_g = c // groups
    # every input pixel adds W's taps, scaled, into the full (uncut) output
    y = np.zeros((n, c_out_g * groups, (h - 1) * sy + dy * (kh - 1) + 1 + oy,
                  (w - 1) * sx + dx * (kw - 1) + 1 + ox))
    for g in range(groups):
        xs, Ws = x[:, g * c_g:(g + 1) * c_g], W[g * c_g:(g + 1) * c_g]
        for i in range(h):
            for j in range(w):
                for u in range(kh):
                    for v in range(kw):
                        y[:, g * c_out_g:(g + 1) * c_out_g, i * sy + u * dy, j * sx + v * dx] += \
                            xs[:, :, i, j] @ Ws[:, :, u, v]
    y = y[:, :, py:y.shape[2] - py, px:y.shape[3] - px]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


# ---- configurations ----
def _pairs(lo, hi):
    return st.tuples(st.integers(lo, hi), st.integers(lo, hi))


@st.composite
def configs(draw, transposed):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel, stride, dilation = draw(_pairs(1, 3)), draw(_pairs(1, 3)), draw(_pairs(1, 2))
    padding = draw(_pairs(0, 2))
    if transposed:
        # PyTorch's rule: smaller than the stride or the dilation
        output_padding = tuple(draw(st.integers(0, max(stride[a], dilation[a]) - 1))
                               for a in range(2))
        size = draw(_pairs(1, 3))
        out = [(size[a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (kernel[a] - 1)
               + output_padding[a] + 1 for a in range(2)]
        assume(min(out) > 0)
        weight = (c_in, c_out // groups) + kernel
    else:
        output_padding = None
        # smallest size the dilated kernel fits in, plus up to 3
        size = tuple(max(1, dilation[a] * (kernel[a] - 1) + 1 - 2 * padding[a])
                     + draw(st.integers(0, 3)) for a in range(2))
        weight = (c_out, c_in // groups) + kernel
    bias = draw(st.booleans())
    # which of x, W, b require grad: every backward branch, at least one of them
    requires_grad = draw(st.lists(st.booleans(), min_size=2 + bias, max_size=2 + bias)
                         .filter(any))
    return dict(n=draw(st.integers(1, 2)), x=(c_in,) + size, weight=weight, c_out=c_out,
                stride=stride, padding=padding, dilation=dilation, groups=groups,
                output_padding=output_padding, bias=bias, requires_grad=requires_grad,
                seed=draw(st.integers(0, 2 ** 32 - 1)))


def _example(transposed, **changes):
    """A fixed configuration, so the cases below run whatever Hypothesis draws."""
    cfg = dict(n=2, x=(2, 3, 3), weight=(2, 2, 2, 2), c_out=2, stride=(1, 1), padding=(0, 0),
               dilation=(1, 1), groups=1, output_padding=(0, 0) if transposed else None,
               bias=True, requires_grad=[True, True, True], seed=0)
    cfg.update(changes)
    return cfg


def _int_if_square(pair):
    """Pass (a, a) as the int a, so both argument forms are exercised."""
    return pair[0] if pair[0] == pair[1] else pair


def _arrays(cfg):
    rng = np.random.default_rng(cfg["seed"])
    arrays = [rng.standard_normal((cfg["n"],) + cfg["x"]), rng.standard_normal(cfg["weight"])]
    return arrays + ([rng.standard_normal(cfg["c_out"])] if cfg["bias"] else [])


def _conv2d_args(cfg):
    return dict(stride=_int_if_square(cfg["stride"]), padding=_int_if_square(cfg["padding"]),
                dilation=_int_if_square(cfg["dilation"]), groups=cfg["groups"])


def _conv_transpose2d_args(cfg):
    return dict(_conv2d_args(cfg), output_padding=_int_if_square(cfg["output_padding"]))


# ---- forward, shape, gradients ----
# NOTE: ~24 s on the emulated GPU: there in the slow set; the conv kernels' quick-run
# checks are test_conv_transpose2d's, which runs conv2d's forward and backward movers too
@pytest.mark.parametrize("device", SLOW_ON_THE_EMULATOR, indirect=True)
@given(cfg=configs(transposed=False))
# one window that covers the image: im2col's shortcut (DCGAN's last conv), col2im's in gx
@example(cfg=_example(False, x=(2, 3, 2), weight=(2, 2, 3, 2), stride=(2, 3)))
@example(cfg=_example(False, x=(4, 4, 5), weight=(2, 2, 3, 2), groups=2, stride=(2, 1),
                      padding=(1, 0)))                    # grouped, strided: windows miss x's end
def test_conv2d(cfg, device):
    s, p, d, g = cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"]
    y = check_op(lambda x, W, b=None: F.conv2d(x, W, b, **_conv2d_args(cfg)), *_arrays(cfg),
                 device=device, requires_grad=cfg["requires_grad"],
                 reference=lambda x, W, b=None: conv2d_reference(x, W, b, s, p, d, g))
    k, (h, w) = cfg["weight"][2:], cfg["x"][1:]
    assert y.shape == (cfg["n"], cfg["c_out"],
                       (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1,
                       (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)


@given(cfg=configs(transposed=True))
# a 1×1 input: col2im's one-window shortcut (DCGAN's first deconv), im2col's in gx
@example(cfg=_example(True, x=(2, 1, 1), weight=(2, 2, 3, 2), stride=(2, 3)))
@example(cfg=_example(True, dilation=(2, 2), output_padding=(1, 1)))   # output_padding = stride
@example(cfg=_example(True, x=(2, 2, 3), weight=(2, 2, 3, 2), c_out=4, groups=2, stride=(2, 3),
                      padding=(1, 0), output_padding=(1, 2)))
def test_conv_transpose2d(cfg, device):
    s, p, d, g, op = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"],
                      cfg["output_padding"])
    def reference(x, W, b=None):
        return conv_transpose2d_reference(x, W, b, s, p, op, d, g)

    y = check_op(lambda x, W, b=None: F.conv_transpose2d(x, W, b, **_conv_transpose2d_args(cfg)),
                 *_arrays(cfg), device=device, requires_grad=cfg["requires_grad"],
                 reference=reference)
    k, (h, w) = cfg["weight"][2:], cfg["x"][1:]
    assert y.shape == (cfg["n"], cfg["c_out"],
                       (h - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1,
                       (w - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1)


@given(cfg=configs(transposed=False))
def test_conv_transpose2d_is_the_adjoint_of_conv2d(cfg, device):
    """⟨conv2d(x, W), z⟩ = ⟨x, conv_transpose2d(z, W)⟩, with output_padding giving x's size."""
    x, W = _arrays(cfg)[:2]
    y = F.conv2d(minigan.tensor(x, device=device), minigan.tensor(W, device=device),
                 **_conv2d_args(cfg))
    z = np.random.default_rng(cfg["seed"] + 1).standard_normal(y.shape)
    s, p, d, k = cfg["stride"], cfg["padding"], cfg["dilation"], cfg["weight"][2:]
    op = tuple(cfg["x"][1 + a] - ((y.shape[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + 1)
               for a in range(2))
    xt = F.conv_transpose2d(minigan.tensor(z, device=device), minigan.tensor(W, device=device),
                            stride=s, padding=p, output_padding=op, groups=cfg["groups"],
                            dilation=d)
    assert xt.shape == x.shape
    np.testing.assert_allclose((y.cpu().numpy() * z).sum(), (x * xt.cpu().numpy()).sum(),
                               rtol=1e-10, atol=1e-10)


def test_float32_stays_float32(device):
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.standard_normal((2, 3, 6, 6)), dtype=minigan.float32, device=device,
                       requires_grad=True)
    W = minigan.tensor(rng.standard_normal((3, 4, 4, 4)), dtype=minigan.float32, device=device,
                       requires_grad=True)
    y = F.conv2d(F.conv_transpose2d(x, W, stride=2, padding=1), W, stride=2, padding=1)
    y.sum().backward()
    assert y.shape == x.shape and y.dtype == x.grad.dtype == W.grad.dtype == minigan.float32


# ---- rejected arguments ----
BAD = [
    # (op, input shape, weight shape, keyword arguments, message)
    ("conv2d", (3, 5, 5), (2, 3, 3, 3), {}, r"conv2d: expected a 4-D input .* \(3, 5, 5\)"),
    ("conv_transpose2d", (3, 5, 5), (3, 2, 3, 3), {},
     r"conv_transpose2d: expected a 4-D input .* \(3, 5, 5\)"),
    ("conv2d", (1, 3, 5, 5), (2, 3, 3), {},
     r"conv2d: expected a 4-D weight, got shape \(2, 3, 3\)"),
    ("conv2d", (1, 4, 5, 5), (2, 3, 3, 3), {},
     r"conv2d: weight of shape \(2, 3, 3, 3\) with groups=1 expects 3 input channels, got input "
     r"of shape \(1, 4, 5, 5\) with 4"),
    ("conv2d", (1, 4, 5, 5), (2, 1, 3, 3), dict(groups=2),
     r"conv2d: weight .* with groups=2 expects 2 input channels, got .* with 4"),
    ("conv_transpose2d", (1, 3, 5, 5), (4, 2, 3, 3), {},
     r"conv_transpose2d: weight of shape \(4, 2, 3, 3\) with groups=1 expects 4 input channels, "
     r"got .* with 3"),
    ("conv2d", (1, 3, 5, 5), (2, 1, 3, 3), dict(groups=2),
     r"conv2d: in_channels 3 is not divisible by groups 2"),
    ("conv2d", (1, 4, 5, 5), (3, 2, 3, 3), dict(groups=2),
     r"conv2d: out_channels 3 is not divisible by groups 2"),
    ("conv_transpose2d", (1, 3, 5, 5), (3, 1, 3, 3), dict(groups=2),
     r"conv_transpose2d: in_channels 3 is not divisible by groups 2"),
    ("conv2d", (1, 2, 5, 5), (2, 2, 3, 3), dict(groups=0), r"conv2d: groups must be .*, got 0"),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 1, 3, 3), dict(stride=2, output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be .*smaller than either stride \(2, 2\) "
     r"or dilation \(1, 1\)"),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 1, 3, 3), dict(output_padding=(0, 1)),
     r"conv_transpose2d: output_padding \(0, 1\) .* stride \(1, 1\) or dilation \(1, 1\)"),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 1, 3, 3), dict(output_padding=-1),
     r"conv_transpose2d: output_padding \(-1, -1\) must be non-negative"),
    ("conv2d", (1, 1, 3, 3), (1, 1, 5, 5), {},
     r"conv2d: kernel size \(5, 5\) \(dilated \(5, 5\)\) is larger than the padded input size "
     r"\(3, 3\)"),
    ("conv2d", (1, 1, 5, 6), (1, 1, 3, 3), dict(dilation=3, padding=(0, 1)),
     r"conv2d: kernel size \(3, 3\) \(dilated \(7, 7\)\) is larger than the padded input size "
     r"\(5, 8\)"),
    ("conv_transpose2d", (1, 1, 1, 1), (1, 1, 1, 1), dict(padding=1),
     r"conv_transpose2d: output size \(-1, -1\) is not positive"),
    ("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(stride=0),
     r"conv2d: stride must be positive, got \(0, 0\)"),
    ("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(stride=(1, -2)),
     r"conv2d: stride must be positive, got \(1, -2\)"),
    ("conv_transpose2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(stride=0),
     r"conv_transpose2d: stride must be positive, got \(0, 0\)"),
    ("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(dilation=0),
     r"conv2d: dilation must be positive, got \(0, 0\)"),
    ("conv_transpose2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(dilation=(-1, 1)),
     r"conv_transpose2d: dilation must be positive, got \(-1, 1\)"),
    ("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(padding=-1),
     r"conv2d: padding must be non-negative, got \(-1, -1\)"),
    ("conv_transpose2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(padding=(0, -1)),
     r"conv_transpose2d: padding must be non-negative, got \(0, -1\)"),
    ("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), dict(stride=(1, 2, 3)),
     r"conv2d: stride must be an int or a pair of ints, got \(1, 2, 3\)"),
    ("conv2d", (1, 1, 5, 5), (2, 1, 3, 3), dict(bias=np.zeros(3)),
     r"conv2d: bias of shape \(3,\) does not match the 2 output channels"),
]


@pytest.mark.parametrize("op, x_shape, w_shape, kwargs, message", BAD,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_arguments(op, x_shape, w_shape, kwargs, message):
    kwargs = dict(kwargs)
    if "bias" in kwargs:
        kwargs["bias"] = minigan.tensor(kwargs["bias"])
    fn = F.conv2d if op == "conv2d" else F.conv_transpose2d
    with pytest.raises(ValueError, match=message):
        fn(minigan.zeros(*x_shape), minigan.zeros(*w_shape), **kwargs)


def test_output_padding_may_reach_stride_when_below_dilation():
    """PyTorch's rule is 'smaller than stride or dilation', not 'smaller than stride'."""
    y = F.conv_transpose2d(minigan.zeros(1, 1, 3, 3), minigan.zeros(1, 1, 2, 2), stride=1,
                           output_padding=1, dilation=2)
    assert y.shape == (1, 1, 6, 6)


# ---- the CUDA movers: tiles of 32 × 32 through shared memory, against the NumPy movers ----
# shapes that end mid-tile on both axes (33 images, 35 pixels a row), strides, padding, dilation
MOVER_CASES = [
    # (N, C, H, W), kernel, stride, padding, dilation
    ((33, 2, 7, 5), (3, 2), (1, 1), (1, 0), (1, 1)),
    ((3, 3, 9, 11), (4, 4), (2, 2), (1, 1), (1, 1)),
    ((40, 1, 6, 6), (2, 3), (2, 1), (0, 2), (2, 1)),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation", MOVER_CASES)
def test_cuda_movers_equal_the_numpy_movers_across_tile_edges(gpu, x_shape, kernel, stride,
                                                              padding, dilation):
    from minigan.ops.conv import conv_outsize
    from minigan.ops.movers import CUDA_MOVERS, NUMPY_MOVERS
    rng = np.random.default_rng(0)
    n, c, h, w = x_shape
    out_size = tuple(conv_outsize(*a) for a in zip((h, w), kernel, stride, padding, dilation))
    x = rng.standard_normal(x_shape).astype(np.float32)
    cols = rng.standard_normal((c, *kernel, *out_size, n)).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32)

    def on_gpu(a):
        return minigan.tensor(a, device=gpu).data

    def both(name, *args, **kwargs):
        """NumPy's and the kernel's result, the kernel run twice: it must repeat bit for bit."""
        expected = getattr(NUMPY_MOVERS, name)(*args, **kwargs)
        gpu_args = [on_gpu(a) if isinstance(a, np.ndarray) else a for a in args]
        gpu_kwargs = {k: on_gpu(a) for k, a in kwargs.items()}
        got = [minigan.tensor(getattr(CUDA_MOVERS, name)(*gpu_args, **gpu_kwargs)).cpu().numpy()
               for _ in range(2)]
        np.testing.assert_array_equal(got[0], got[1])
        return expected, got[0]

    # pure moves: the same bits; col2im adds its taps in the same order as NumPy does
    for expected, got in (both("im2col", x, kernel, stride, padding, dilation, out_size),
                          both("to_batch_last", x),
                          both("from_batch_last", x.transpose(1, 2, 3, 0).copy(), bias=bias)):
        np.testing.assert_array_equal(got, expected)
    expected, got = both("col2im", cols, (h, w), stride, padding, dilation, bias=bias)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


# ---- save_cols: cols kept for gW (conv2d's choice) or made again ----
def test_saved_cols_give_the_bits_of_cols_made_again(device):
    """Conv2d(save_cols=True) keeps im2col(x) for gW where save_cols=False makes it again:
    it passes the op checks, gives the same output and gradients bit for bit, and runs
    im2col once a step where the other runs it twice."""
    from minigan.ops.conv import Conv2d
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in [(2, 4, 5, 6), (4, 2, 3, 3), (4,)]]
    s, p, d, g = (2, 1), (1, 0), (1, 2), 2
    check_op(lambda x, W, b: Conv2d(s, p, d, g, save_cols=True)(x, W, b), *arrays,
             device=device, reference=lambda x, W, b: conv2d_reference(x, W, b, s, p, d, g))
    results = []
    for save in (False, True):
        x, W, b = (minigan.tensor(a, device=device, requires_grad=True) for a in arrays)
        with minigan.autograd.profile() as prof:
            y = Conv2d(s, p, d, g, save_cols=save)(x, W, b)
            (y * y).sum().backward()
        im2cols = sum(w.calls for w in prof.work_averages() if w.name.startswith("im2col"))
        assert im2cols == (1 if save else 2)   # the saved cols reach Conv2dGradW
        results.append([t.cpu().numpy() for t in (y, x.grad, W.grad, b.grad)])
    for default, saved in zip(*results):
        np.testing.assert_array_equal(saved, default)


# ---- the NumPy conv's outputs: (N, C, H, W) views of batch-last memory ----
def test_numpy_conv_outputs_are_batch_last_views_that_the_next_conv_takes_as_they_are():
    rng = np.random.default_rng(4)
    x = minigan.tensor(rng.standard_normal((5, 3, 9, 9)))
    W1, W2 = (minigan.tensor(rng.standard_normal(s)) for s in [(4, 3, 3, 3), (4, 2, 4, 4)])
    y = F.conv2d(x, W1, stride=2, padding=1)
    z = F.conv_transpose2d(y, W2, stride=2, padding=1)
    for t in (y, z):   # each channel one run of memory, the batch fastest
        assert not t.data.flags.c_contiguous
        assert t.data.transpose(1, 2, 3, 0).flags.c_contiguous
    from minigan.ops import movers
    assert np.shares_memory(movers.to_batch_last(y.data), y.data)   # no copy
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x.numpy(), W1.numpy(), None,
                                                           (2, 2), (1, 1), (1, 1), 1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(8, 6, 5, 5), (64, 3, 20, 20)])   # one piece, and several
def test_batch_norm_and_leaky_relu_on_batch_last_memory_equal_them_on_c_ordered(shape):
    """The same values (not bits: the sums run in another order) whichever memory order x
    has, and the outputs keep x's order; a gradient in the other order is read right."""
    rng = np.random.default_rng(5)
    dense = rng.standard_normal(shape)
    lead = np.ascontiguousarray(dense.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    gy = rng.standard_normal(shape)                                   # C-ordered
    results = []
    for array in (dense, lead):
        x = minigan.tensor(array, requires_grad=True)
        y = F.leaky_relu(F.batch_norm(x, None, None, training=True), 0.2)
        assert y.data.flags.c_contiguous == array.flags.c_contiguous
        y.backward(minigan.tensor(gy))
        results.append((y.numpy(), x.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_conv_then_batch_norm_on_its_batch_last_output_passes_gradcheck_twice():
    """The path that batch-last memory takes through BatchNorm (``_by_channel``, lead) and
    LeakyReLU, forward and backward, against finite differences, first and second order."""
    from minigan.autograd.gradcheck import gradcheck, gradgradcheck
    rng = np.random.default_rng(6)
    x = minigan.tensor(rng.standard_normal((3, 2, 5, 5)), requires_grad=True)
    W = minigan.tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    gamma = minigan.tensor(rng.standard_normal(4) + 2, requires_grad=True)

    def fn(x, W, gamma):
        y = F.conv2d(x, W, stride=2, padding=1)
        assert y.data.transpose(1, 2, 3, 0).flags.c_contiguous   # the lead path, not a copy
        return F.leaky_relu(F.batch_norm(y, None, None, gamma, training=True), 0.2)
    assert gradcheck(fn, (x, W, gamma))
    assert gradgradcheck(fn, (x, W, gamma))
