"""Every kernel-backed op against its NumPy reference, on the same inputs.

The fixture ``gpu`` (tests/conftest.py) gives the device 'cuda' twice: "emulated" runs
the GPU path on the CPU (the CuPy double, our CUDA kernels through tests/cuda_emu), so
CI checks it without a GPU; "cuda" runs it on a real GPU where there is one. New kernel
outputs start as NaN, so an element a kernel forgets to write fails. Last, the kernels'
names: read from their .cu files (``minigan.cuda.kernels``), the one list of them.
"""
import re
from pathlib import Path

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import cuda
from minigan.autograd import gradcheck, gradgradcheck
from minigan.optim import adam_update, adam_update_cuda


def run_both(fn, arrays, gpu, requires_grad=True):
    """(output, grads) of fn on CPU tensors (the NumPy reference) and on ``gpu`` (our kernels)."""
    results = []
    for device in ("cpu", gpu):
        inputs = [minigan.tensor(a, device=device, requires_grad=requires_grad and
                                 a.dtype.kind == "f") for a in arrays]
        out = fn(*inputs)
        seed = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
        out.backward(minigan.tensor(seed, device=device))
        results.append((out.cpu().numpy().copy(),
                        [x.grad.cpu().numpy().copy() for x in inputs if x.grad is not None]))
    return results


def assert_close(reference, ours, rtol, atol=1e-6):
    (y_ref, g_ref), (y_k, g_k) = reference, ours
    assert not np.isnan(y_k).any(), "a kernel left an output element unwritten"
    np.testing.assert_allclose(y_k, y_ref, rtol=rtol, atol=atol)
    assert len(g_ref) == len(g_k)
    for a, b in zip(g_ref, g_k):
        assert not np.isnan(b).any()
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_kernels(gpu, dtype):
    x = rng.standard_normal((5, 7)).astype(dtype)
    reference, ours = run_both(lambda x: F.leaky_relu(x, 0.2), [x], gpu)
    assert_close(reference, ours, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", [F.relu, F.tanh, F.sigmoid])
def test_activation_kernels(gpu, dtype, op):
    x = (3 * rng.standard_normal((3, 5, 7, 11))).astype(dtype)   # 1155 values: 5 blocks
    x[0, 0, 0, :3] = 0                                           # relu at its kink
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(*run_both(op, [x], gpu), rtol=rtol)
    if dtype == np.float64:   # the gradient nodes TanhGrad, SigmoidGrad, LeakyReLUGrad
        xt = minigan.tensor(x[1, :2, :3, :4], device=gpu, requires_grad=True)   # no kink
        assert gradgradcheck(op, (xt,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_fill_and_sum_kernels(gpu, dtype):
    a, b = (rng.standard_normal((7, 300)).astype(dtype) for _ in range(2))   # 2100: > 256 each
    assert_close(*run_both(lambda a, b: a + b, [a, b], gpu), rtol=0)
    assert_close(*run_both(lambda a: a.mean(), [a], gpu), rtol=1e-5, atol=1e-6)
    assert_close(*run_both(lambda a: a.sum(), [a], gpu), rtol=1e-5, atol=1e-5)
    full = minigan.full((3, 257), 0.25, dtype=dtype, device=gpu)
    assert full.dtype == dtype and (full.cpu().numpy() == 0.25).all()
    grad = minigan.tensor(a, device=gpu)
    minigan.ops.add_into(grad, minigan.tensor(b, device=gpu))
    np.testing.assert_array_equal(grad.cpu().numpy(), a + b)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_kernels(gpu, reduction, weighted):
    x = (rng.standard_normal((37, 3)) * 4).astype(np.float32)
    x[0, 0], x[1, 1] = 1e4, -1e4                         # the stable formula must hold here
    t = rng.uniform(0, 1, (37, 3)).astype(np.float32)    # soft targets: label smoothing
    kw = dict(weight=rng.uniform(0.5, 2, (37, 3)).astype(np.float32),
              pos_weight=rng.uniform(0.5, 2, 3).astype(np.float32)) if weighted else {}

    def fn(x, t):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
        return loss if reduction == "none" else loss.reshape(1)
    reference, ours = run_both(fn, [x, t], gpu)
    assert_close(reference, ours, rtol=1e-5)


def test_bce_with_logits_reduction_over_many_blocks(gpu):
    # more elements than one block's threads: the partial sums and their fixed-order total
    x = rng.standard_normal(3000).astype(np.float64)
    t = (rng.uniform(size=3000) > 0.5).astype(np.float64)
    reference, ours = run_both(lambda x, t: F.binary_cross_entropy_with_logits(x, t).reshape(1),
                                  [x, t], gpu)
    assert_close(reference, ours, rtol=1e-12)


# the last: 4495 values a channel, so the two-stage sums split each channel into 3 parts
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4, 3), (5, 3, 29, 31)])
def test_batch_norm_training_kernels(gpu, shape):
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
    beta = rng.standard_normal(shape[1]).astype(np.float32)
    weights = np.linspace(-1, 1, x.size).reshape(shape).astype(np.float32)
    results = []
    for device in ("cpu", gpu):
        def make(a, requires_grad=False):
            return minigan.tensor(a, device=device, requires_grad=requires_grad)
        rm, rv = make(np.zeros(shape[1], np.float32)), make(np.ones(shape[1], np.float32))
        x_t, g_t, b_t = (make(a, requires_grad=True) for a in (x, gamma, beta))
        y = F.batch_norm(x_t, rm, rv, g_t, b_t, training=True, momentum=0.3, eps=1e-5)
        (y * make(weights)).sum().backward()
        results.append([a.cpu().numpy().copy()
                        for a in (y, rm, rv, x_t.grad, g_t.grad, b_t.grad)])
    for a, b in zip(*results):
        assert not np.isnan(b).any()
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_batch_norm_statistics_in_parts_are_exact_and_repeat(gpu):
    assert cuda.channel_parts(64, 128 * 32 * 32) == 9     # dcgan64's widest BN: 576 blocks, not 64
    assert cuda.channel_parts(512, 128 * 4 * 4) == 1      # enough channels: one part each
    shape = (5, 3, 29, 31)
    assert cuda.channel_parts(3, 5 * 29 * 31) == 3        # parts of 1499, 1499 and 1497 values
    # NOTE: far from 0, as activations may be: a one-pass Σx² - (Σx)²/m would lose the variance
    x = (1000 + rng.standard_normal(shape)).astype(np.float32)
    runs = []
    for _ in range(2):
        rv = minigan.tensor(np.ones(3, np.float32), device=gpu)
        y = F.batch_norm(minigan.tensor(x, device=gpu), None, rv, training=True, momentum=1.0)
        runs.append((y.cpu().numpy(), rv.cpu().numpy()))
    for a, b in zip(*runs):                       # the same bits on a rerun
        np.testing.assert_array_equal(a, b)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(runs[0][1], x64.var(axis=(0, 2, 3), ddof=1), rtol=2e-5)
    mean = x64.mean(axis=(0, 2, 3), keepdims=True)
    x_hat = (x64 - mean) / np.sqrt(x64.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(runs[0][0], x_hat, atol=2e-3)


@pytest.mark.parametrize("shape", [(4, 3, 5), (5, 3, 29, 31), (0, 3, 2, 2)])
def test_sum_over_all_but_the_channels_runs_on_its_kernels(gpu, shape, monkeypatch):
    # a conv's gb; the second shape has 4495 values a channel: three parts each; the last none
    from minigan.ops.reduce import Sum
    x = rng.standard_normal(shape)
    axes = (0,) + tuple(range(2, len(shape)))
    expected = minigan.tensor(x).sum(axes).numpy()

    def no_fallback(self, x):
        raise AssertionError("Sum over all axes but 1 fell back to CuPy's sum")
    monkeypatch.setattr(Sum, "forward", no_fallback)
    t = minigan.tensor(x, device=gpu, requires_grad=True)
    y = t.sum(axes)
    y.backward(minigan.tensor(np.arange(3.0), device=gpu))
    np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(t.grad.cpu().numpy(), np.broadcast_to(
        np.arange(3.0).reshape((1, 3) + (1,) * (len(shape) - 2)), shape))


def test_batch_norm_eval_kernel(gpu):
    x = rng.standard_normal((4, 3, 2, 2))
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)

    def fn(x, g, b):
        rm, rv = (minigan.tensor(a, device=x.device) for a in (mean, var))
        return F.batch_norm(x, rm, rv, g, b, training=False)
    reference, ours = run_both(fn, [x, gamma, beta], gpu)
    assert_close(reference, ours, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_kernel(gpu, dtype, weight_decay):
    shape = (300,)
    p0, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    m0, v0 = rng.standard_normal(shape).astype(dtype), rng.uniform(0, 1, shape).astype(dtype)
    args = (3, 1e-3, 0.5, 0.999, 1e-8, weight_decay)
    expected = [p0.copy(), g, m0.copy(), v0.copy()]
    adam_update(*expected, *args)
    got = [minigan.tensor(a, device=gpu) for a in (p0, g, m0, v0)]
    step = minigan.tensor(np.array([args[0]]), device=gpu).data   # t, read on the device
    adam_update_cuda(*[t.data for t in got], step, *args[1:])
    # NOTE: float32 within a few roundings (a GPU may fuse a multiply-add): the kernel takes
    # 1 - β₁, 1 - β₂ rounded from double, as NumPy does; computing them in float32 was 1.3e-5 off
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b.cpu().numpy(), a, rtol=rtol, atol=1e-9)


def test_kernel_paths_pass_gradcheck_and_gradgradcheck(gpu):
    # float64 through the kernels: first derivatives use the fused backward kernels,
    # second derivatives the differentiable formulas around them
    x = minigan.tensor(rng.standard_normal((4, 3)), device=gpu, requires_grad=True)
    t = minigan.tensor(rng.uniform(0, 1, (4, 3)), device=gpu, requires_grad=True)
    g = minigan.tensor(rng.uniform(0.5, 1.5, 3), device=gpu, requires_grad=True)
    b = minigan.tensor(rng.standard_normal(3), device=gpu, requires_grad=True)

    def fn(x, t, g, b):
        h = F.batch_norm(x, None, None, g, b, training=True)
        return F.binary_cross_entropy_with_logits(F.leaky_relu(h, 0.2), t)
    assert gradcheck(fn, (x, t, g, b))
    assert gradgradcheck(fn, (x, t, g, b), full_limit=0)   # random directions: a short run


def test_kernels_are_deterministic(gpu):
    """Two runs, the same bytes: the per-channel sums and col2im gather in a fixed order."""
    x = rng.standard_normal((8, 4, 6, 6)).astype(np.float32)
    W1 = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)      # conv2d: 4 -> 5 channels
    W2 = rng.standard_normal((5, 4, 4, 4)).astype(np.float32)      # conv_transpose2d: 5 -> 4
    outs = []
    for _ in range(2):
        x_t, W1_t, W2_t = (minigan.tensor(a, device=gpu, requires_grad=True) for a in (x, W1, W2))
        h = F.conv_transpose2d(F.conv2d(x_t, W1_t, stride=2, padding=1), W2_t, stride=2,
                               padding=1)                           # (8, 4, 6, 6) again
        y = F.leaky_relu(F.batch_norm(h, None, None, training=True), 0.2)
        loss = F.binary_cross_entropy_with_logits(y, minigan.zeros_like(y))
        loss.backward()
        outs.append([t.cpu().numpy().tobytes() for t in (loss, x_t.grad, W1_t.grad, W2_t.grad)])
    assert outs[0] == outs[1]


CONV_CASES = [  # (N, C, C_out, H, W, k, stride, padding, dilation, groups, output_padding, bias)
    (2, 3, 4, 6, 5, 3, 1, 1, 1, 1, 0, True),
    (2, 4, 6, 7, 7, 3, 2, 1, 1, 2, 1, False),
    (1, 2, 2, 8, 6, (2, 3), (2, 1), (0, 2), (2, 1), 1, (1, 0), True),
    (3, 2, 3, 5, 5, 4, 2, 1, 1, 1, 0, False),        # the DCGAN layer shape
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_kernels(gpu, case, dtype):
    n, c, c_out, h, w, k, s, p, d, g, op, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((c_out, c // g, kh, kw)).astype(dtype)
    Wt = rng.standard_normal((c, c_out // g, kh, kw)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    rtol = 1e-4 if dtype == np.float32 else 1e-10

    def conv(x, W, *b):
        return F.conv2d(x, W, b[0] if b else None, s, p, d, g)

    def deconv(x, W, *b):
        return F.conv_transpose2d(x, W, b[0] if b else None, s, p, op, g, d)
    extra = [b] if bias else []
    for fn, weight in ((conv, W), (deconv, Wt)):
        reference, ours = run_both(fn, [x, weight, *extra], gpu)
        assert_close(reference, ours, rtol=rtol, atol=1e-4 if dtype == np.float32 else 1e-10)


def test_conv_kernel_paths_pass_gradgradcheck(gpu):
    # second derivatives through conv2d, conv_transpose2d and the weight-gradient node,
    # every pixel moved by our kernels
    x = minigan.tensor(rng.standard_normal((2, 2, 4, 4)), device=gpu, requires_grad=True)
    W = minigan.tensor(rng.standard_normal((3, 2, 3, 3)), device=gpu, requires_grad=True)
    Wt = minigan.tensor(rng.standard_normal((3, 2, 2, 2)), device=gpu, requires_grad=True)

    def fn(x, W, Wt):
        h = F.leaky_relu(F.conv2d(x, W, stride=1, padding=1), 0.2)
        return F.conv_transpose2d(h, Wt, stride=2, padding=1)
    # NOTE: random directions (full_limit=0) keep the emulator's run short
    assert gradcheck(fn, (x, W, Wt), full_limit=0)
    assert gradgradcheck(fn, (x, W, Wt), full_limit=0)


def test_dcgan28_training_step_matches_reference(gpu):
    """A whole GAN step (G, D, BCE, Adam) on the kernels equals the NumPy step."""
    from minigan.models import DCGANDiscriminator, DCGANGenerator
    params = []
    for device in ("cpu", gpu):
        minigan.manual_seed(0)
        G, D = DCGANGenerator(28, ngf=4), DCGANDiscriminator(28, ndf=4)
        G.to(device), D.to(device)
        opt_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real = minigan.rand(3, 1, 28, 28, device=device) * 2 - 1
        z = minigan.randn(3, 100, device=device)
        ones, zeros = minigan.ones(3, 1, device=device), minigan.zeros(3, 1, device=device)
        fake = G(z)
        loss_D = (F.binary_cross_entropy_with_logits(D(real), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        params.append([t.cpu().numpy().copy()
                       for m in (G, D) for t in list(m.parameters()) + list(m.buffers())])
    for a, b in zip(*params):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


# ---- the kernels' names, read from their files ----

def test_every_kernel_is_launched_and_every_launch_names_a_kernel():
    package = Path(minigan.__file__).parent
    launched = set()
    for path in package.rglob("*.py"):
        launched.update(re.findall(r'launch\(\s*"(\w+)",\s*"(\w+)"', path.read_text()))
    kernels = {(file, name) for file in cuda.kernel_files() for name in cuda.kernels(file)}
    assert len(kernels) > 10, f"the parser found only {sorted(kernels)}: is it stale?"
    assert launched == kernels


def test_a_kernel_the_parser_cannot_read_is_an_error(monkeypatch):
    text = ('template <typename T>\n__global__ void scale(T* x, T a, long long n) {}\n'
            'extern "C" __global__ void fill(float* x, long long n) {}\n')
    monkeypatch.setattr(cuda, "source", lambda file: text)
    with pytest.raises(ValueError, match="1 of its 2 __global__ functions"):
        cuda.kernels("not_a_file")
