"""Every kernel-backed op on the GPU path against the same op on CPU tensors (its NumPy
reference), on the same inputs: one ``check_op(..., reference="cpu")`` row each.

The fixture ``gpu`` (tests/conftest.py) gives the device 'cuda' twice: "emulated" runs
the GPU path on the CPU (the CuPy double, our CUDA kernels through tests/cuda_emu), so
CI checks it without a GPU; "cuda" runs it on a real GPU where there is one. New kernel
outputs start as NaN, so an element a kernel forgets to write fails. The inputs are larger
than one block of 256 threads, in float32 and float64: grid-stride loops and multi-block
sums are in play.
"""
import operator

import numpy as np
import pytest

import minigan
import minigan.functional as F
from helpers import check_op
from minigan import cuda
from minigan.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(0)
FLOATS = [np.float32, np.float64]


def normal(*shape, scale=1.0, shift=0.0):
    return scale * rng.standard_normal(shape) + shift


@pytest.mark.parametrize("dtype", FLOATS)
def test_leaky_relu_kernels(gpu, dtype):
    check_op(lambda x: F.leaky_relu(x, 0.2), normal(5, 7), device=gpu, reference="cpu",
             dtype=dtype, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", [F.relu, F.tanh, F.sigmoid])
def test_activation_kernels(gpu, dtype, op):
    x = normal(3, 5, 7, 11, scale=3).astype(dtype)   # 1155 values: 5 blocks
    x[0, 0, 0, :3] = 0                              # relu at its kink
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    check_op(op, x, device=gpu, reference="cpu", dtype=dtype, rtol=rtol, atol=1e-6)
    if dtype == np.float64:   # the gradient nodes TanhGrad, SigmoidGrad, LeakyReLUGrad
        check_op(op, x[1, :2, :3, :4], device=gpu)   # no kink: gradcheck, gradgradcheck


@pytest.mark.parametrize("dtype", FLOATS)
def test_add_fill_and_sum_kernels(gpu, dtype):
    a, b = normal(7, 300), normal(7, 300)   # 2100 values: more than 256 each
    rows = [(operator.add, (a, b), 0, 1e-6), (lambda a: a.mean(), (a,), 1e-5, 1e-6),
            (lambda a: a.sum(), (a,), 1e-5, 1e-5)]
    for fn, arrays, rtol, atol in rows:
        check_op(fn, *arrays, device=gpu, reference="cpu", dtype=dtype, rtol=rtol, atol=atol)
    a, b = a.astype(dtype), b.astype(dtype)
    full = minigan.full((3, 257), 0.25, dtype=dtype, device=gpu)
    assert full.dtype == dtype and (full.cpu().numpy() == 0.25).all()
    grad = minigan.tensor(a, device=gpu)
    minigan.ops.add_into(grad, minigan.tensor(b, device=gpu))
    np.testing.assert_array_equal(grad.cpu().numpy(), a + b)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_kernels(gpu, reduction, weighted):
    x = normal(37, 3, scale=4)
    x[0, 0], x[1, 1] = 1e4, -1e4                         # the stable formula must hold here
    t = rng.uniform(0, 1, (37, 3))                       # soft targets: label smoothing
    kw = dict(weight=rng.uniform(0.5, 2, (37, 3)).astype(np.float32),
              pos_weight=rng.uniform(0.5, 2, 3).astype(np.float32)) if weighted else {}

    def fn(x, t):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
        return loss if reduction == "none" else loss.reshape(1)
    check_op(fn, x, t, device=gpu, reference="cpu", dtype=np.float32, rtol=1e-5, atol=1e-6)


def test_bce_with_logits_reduction_over_many_blocks(gpu):
    # more elements than one block's threads: the partial sums and their fixed-order total
    x, t = normal(3000), (rng.uniform(size=3000) > 0.5).astype(np.float64)
    check_op(lambda x, t: F.binary_cross_entropy_with_logits(x, t).reshape(1), x, t,
             device=gpu, reference="cpu", rtol=1e-12, atol=1e-6)


def batch_norm_training(x, gamma, beta):
    """y and both running statistics, which the forward updates."""
    c = x.shape[1]
    rm = minigan.zeros(c, dtype=x.dtype, device=x.device)
    rv = minigan.ones(c, dtype=x.dtype, device=x.device)
    y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.3, eps=1e-5)
    return y, rm, rv


# the last: 4495 values a channel, so the two-stage sums split each channel into 3 parts
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4, 3), (5, 3, 29, 31)])
def test_batch_norm_training_kernels(gpu, shape):
    x, gamma = normal(*shape, scale=3, shift=1), rng.uniform(0.5, 1.5, shape[1])
    check_op(batch_norm_training, x, gamma, normal(shape[1]), device=gpu, reference="cpu",
             dtype=np.float32, rtol=1e-4, atol=1e-5)


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
    mean, var = normal(3), rng.uniform(0.5, 2, 3)

    def fn(x, g, b):
        rm, rv = (minigan.tensor(a, device=x.device) for a in (mean, var))
        return F.batch_norm(x, rm, rv, g, b, training=False)
    check_op(fn, normal(4, 3, 2, 2), rng.uniform(0.5, 1.5, 3), normal(3), device=gpu,
             reference="cpu", rtol=1e-12, atol=1e-6)


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
@pytest.mark.parametrize("dtype", FLOATS)
def test_conv_kernels(gpu, case, dtype):
    n, c, c_out, h, w, k, s, p, d, g, op, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    x, W, Wt = normal(n, c, h, w), normal(c_out, c // g, kh, kw), normal(c, c_out // g, kh, kw)
    extra = [normal(c_out)] if bias else []
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)

    def conv(x, W, *b):
        return F.conv2d(x, W, b[0] if b else None, s, p, d, g)

    def deconv(x, W, *b):
        return F.conv_transpose2d(x, W, b[0] if b else None, s, p, op, g, d)
    check_op(conv, x, W, *extra, device=gpu, reference="cpu", dtype=dtype, **tol)
    check_op(deconv, x, Wt, *extra, device=gpu, reference="cpu", dtype=dtype, **tol)


def test_conv_kernel_paths_pass_gradgradcheck(gpu):
    # second derivatives through conv2d, conv_transpose2d and the weight-gradient node,
    # every pixel moved by our kernels
    def fn(x, W, Wt):
        h = F.leaky_relu(F.conv2d(x, W, stride=1, padding=1), 0.2)
        return F.conv_transpose2d(h, Wt, stride=2, padding=1)
    # NOTE: random directions (full_limit=0) keep the emulator's run short
    check_op(fn, normal(2, 2, 4, 4), normal(3, 2, 3, 3), normal(3, 2, 2, 2), device=gpu,
             full_limit=0)


def dcgan28_step(ones, zeros):
    """A whole GAN step (G, D, BCE, Adam) on 3 images; its parameters and buffers after."""
    from minigan.models import DCGANDiscriminator, DCGANGenerator
    device = ones.device
    G, D = DCGANGenerator(28, ngf=4).to(device), DCGANDiscriminator(28, ndf=4).to(device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = minigan.rand(3, 1, 28, 28, device=device) * 2 - 1
    fake = G(minigan.randn(3, 100, device=device))
    loss_D = (F.binary_cross_entropy_with_logits(D(real), ones)
              + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()
    loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    # NOTE: BatchNorm's num_batches_tracked stays on the host: moved here to be compared too
    return tuple(t.detach().to(device) for m in (G, D) for t in [*m.parameters(), *m.buffers()])


def test_dcgan28_training_step_matches_reference(gpu):
    """The step on the kernels equals the NumPy step (the same seed before each)."""
    check_op(dcgan28_step, np.ones((3, 1)), np.zeros((3, 1)), device=gpu, reference="cpu",
             dtype=np.float32, requires_grad=[False, False], rtol=1e-4, atol=1e-5)
