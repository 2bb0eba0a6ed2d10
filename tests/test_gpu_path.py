"""The GPU path's guarantees, on the emulated GPU (and on a real one where present).

Each test is a case a CuPy run got wrong, without an error, before the guarantee held:
- every kernel argument is dense, C-ordered and of the kernel's dtype: ``cuda.launch``
  checks it for every runtime, and views that reach a kernel op (``x.T``, the broadcast
  gradient of ``sum``/``mean``) give the CPU's numbers;
- every ``.grad`` is dense, C-ordered and its own, decided without NumPy-only flags;
- a dtype a kernel-backed op cannot take is one TypeError naming the op, on every device;
- grid-stride loops and multi-block reductions hold when a launch needs more blocks.
"""
import numpy as np
import pytest

import minigan
import minigan.functional as F
from cuda_emu import cupy_double
from helpers import NO_GPU
from minigan import backend, cuda, models, nn
from minigan.optim import adam_update, adam_update_cuda
from minigan.penalties import gradient_penalty, r1_penalty

RNG = np.random.default_rng(7)


def same_on_cpu_and(gpu, run, rtol=1e-5, atol=1e-6):
    """``run(device)`` returns a list of tensors; they must agree on the CPU and on ``gpu``."""
    results = []
    for device in ("cpu", gpu):
        minigan.manual_seed(0)
        results.append([t.cpu().numpy().copy() for t in run(device)])
    assert len(results[0]) == len(results[1])
    for i, (expected, got) in enumerate(zip(*results)):
        assert not np.isnan(got).any(), f"result {i} has NaN: a kernel read or wrote wrongly"
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=f"result {i}")


def leaf(array, device):
    return minigan.tensor(array, device=device, requires_grad=True)


def grads(module):
    """The parameters' gradients (R1 gives BatchNorm's bias none: ∇ₓD does not depend on it)."""
    return [p.grad for p in module.parameters() if p.grad is not None]


# ---- views that reach a kernel op ----

def test_a_critic_loss_mean_backward(gpu):
    # D(x).mean(): the last conv's gradient was a stride-0 (N, 1, 1, 1) view of one float
    x = RNG.standard_normal((3, 1, 28, 28)).astype(np.float32)

    def run(device):
        critic = models.WGANCritic(28, ndf=4).to(device)
        xt = leaf(x, device)
        critic(xt).mean().backward()
        return [xt.grad, *grads(critic)]
    same_on_cpu_and(gpu, run)


def test_gradient_penalty_and_r1_steps(gpu):
    # grad(scores.sum(), x): the same broadcast gradient, then differentiated again
    real = RNG.standard_normal((4, 1, 28, 28)).astype(np.float32)
    fake = RNG.standard_normal((4, 1, 28, 28)).astype(np.float32)

    def run(device):
        critic = models.WGANCritic(28, ndf=4).to(device)
        D = models.DCGANDiscriminator(28, ndf=4).to(device)
        r, f = (minigan.tensor(a, device=device) for a in (real, fake))
        gradient_penalty(critic, r, f).backward()
        r1 = r1_penalty(D, r, gamma=10.0)
        r1.backward()
        return [*grads(critic), r1, *grads(D)]
    same_on_cpu_and(gpu, run, rtol=1e-4, atol=1e-5)


def test_leaky_relu_then_sum(gpu):
    x = RNG.standard_normal((5, 7))

    def run(device):
        xt = leaf(x, device)
        F.leaky_relu(xt, 0.2).sum().backward()
        return [xt.grad]
    same_on_cpu_and(gpu, run)


def test_bce_without_reduction_then_mean(gpu):
    x, t = RNG.standard_normal((6, 3)), RNG.uniform(0, 1, (6, 3))

    def run(device):
        xt, tt = leaf(x, device), leaf(t, device)
        F.binary_cross_entropy_with_logits(xt, tt, reduction="none").mean().backward()
        return [xt.grad, tt.grad]
    same_on_cpu_and(gpu, run)


def test_leaky_relu_of_a_transpose(gpu):
    x, gy = RNG.standard_normal((5, 7)), RNG.standard_normal((7, 5))

    def run(device):
        xt = leaf(x, device)
        y = F.leaky_relu(xt.T, 0.2)
        y.backward(minigan.tensor(gy, device=device))
        return [y, xt.grad]
    same_on_cpu_and(gpu, run)


def test_kernel_ops_of_sliced_and_expanded_inputs(gpu):
    x = RNG.standard_normal((4, 6, 5, 5)).astype(np.float32)
    row = RNG.standard_normal((1, 3)).astype(np.float32)

    def run(device):
        xt, rt = leaf(x, device), leaf(row, device)
        h = F.batch_norm(xt[:, ::2], None, None, training=True)          # a strided view
        loss = F.binary_cross_entropy_with_logits(rt.expand(4, 3), minigan.zeros(
            4, 3, device=device)) + h.sum()
        loss.backward()
        return [h, xt.grad, rt.grad]
    same_on_cpu_and(gpu, run, rtol=1e-4, atol=1e-5)


def test_adam_with_a_transposed_gradient(gpu):
    # x @ W.T leaves W.grad as the transpose of a dense array
    x, W = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3))

    def run(device):
        Wt = nn.Parameter(minigan.tensor(W, device=device))
        opt = minigan.optim.Adam([Wt], lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            (minigan.tensor(x, device=device) @ Wt.T).pow(2).sum().backward()
            assert Wt.grad.data.flags.c_contiguous
            opt.step()
        return [Wt]
    same_on_cpu_and(gpu, run)


def test_the_fused_adam_reads_a_transposed_gradient(gpu):
    p, g = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 4)).T
    expected = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    adam_update(expected[0], g, *expected[1:], 1, 1e-3, 0.9, 0.999, 1e-8, 0.0)
    got = [minigan.tensor(a, device=gpu) for a in (p, np.zeros_like(p), np.zeros_like(p))]
    g_dev = minigan.tensor(g.T, device=gpu).T   # a transposed view on the device
    step = minigan.tensor(np.array([1]), device=gpu).data
    adam_update_cuda(got[0].data, g_dev.data, got[1].data, got[2].data,
                     step, 1e-3, 0.9, 0.999, 1e-8, 0.0)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b.cpu().numpy(), a, rtol=1e-12)


def test_broadcast_gradients_are_written_out_dense(gpu):
    # the producer, not the kernel op, makes sum/mean/expand's gradient dense (one fill)
    x = leaf(RNG.standard_normal((1, 3)), gpu)
    y = x.expand(4, 3)
    assert y.data.flags.c_contiguous and y.data.strides[0] != 0
    y.mean().backward()
    assert x.grad.data.flags.c_contiguous
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.full((1, 3), 4 / 12))


# ---- the launch: one check, whatever the runtime ----

class RecordingRuntime(cuda.CupyRuntime):
    """The real runtime's class, recording launches instead of compiling: what reaches it."""

    def __init__(self):
        self.launched = []

    def function(self, file, name, dtype):
        return lambda grid, block, args: self.launched.append((name, dtype))


@pytest.fixture
def recording(monkeypatch):
    cupy_double.install(monkeypatch)
    runtime = RecordingRuntime()
    monkeypatch.setattr(cuda, "runtime", runtime)
    return runtime


def device_array(shape, dtype=np.float32):
    return cupy_double.module.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("position, bad, error, match", [
    (0, lambda: device_array((4, 3)).T, ValueError,
     r"argument 0 \(x\) of shape \(3, 4\).*not dense"),
    (0, lambda: cupy_double.module.broadcast_to(device_array((1, 3)), (4, 3)), ValueError,
     "not dense and C-ordered"),
    (0, lambda: device_array((4, 3))[:, ::2], ValueError, "not dense and C-ordered"),
    (0, lambda: device_array(12, np.float64), TypeError, r"argument 0 \(x\) has dtype float64"),
    (0, lambda: np.zeros(12, np.float32), TypeError, r"argument 0 \(x\) is a ndarray"),
    (0, lambda: np.float32(0.5), TypeError, "is a T array; got a float32 scalar"),
    (2, lambda: 0.5, TypeError, r"argument 2 \(slope\) is a float"),
    (2, lambda: np.float64(0.5), TypeError, r"argument 2 \(slope\) is a T, got float64"),
    (2, lambda: device_array(1), TypeError, "is a T, got a device array"),
    # CuPy would pack 4 bytes where the kernel reads 8: every later argument shifted
    (3, lambda: np.int32(12), TypeError, r"argument 3 \(n\) is a long long, got int32"),
    (3, lambda: np.int16(3), TypeError, "is a long long, got int16"),
])
def test_launch_refuses_what_a_kernel_would_misread(recording, position, bad, error, match):
    good = (device_array(12), device_array(12), np.float32(0.2), np.int64(12))
    args = list(good)
    args[position] = bad()
    with pytest.raises(error, match=match):
        cuda.launch("leaky_relu", "leaky_relu_forward", np.float32, 1, *args)
    with pytest.raises(TypeError, match="leaky_relu_forward takes 4 arguments, got 3"):
        cuda.launch("leaky_relu", "leaky_relu_forward", np.float32, 1, *good[:3])
    cuda.launch("leaky_relu", "leaky_relu_forward", np.float32, 1, *good)
    assert recording.launched == [("leaky_relu_forward", np.float32)]   # the bad one never did


def test_every_kernel_parameter_has_a_type_the_launch_can_check():
    for file in cuda.kernel_files():
        for name in cuda.kernels(file):
            assert cuda.parameters(file, name), (file, name)
    assert cuda.parameters("leaky_relu", "leaky_relu_forward") == (
        ("x", "T", True), ("y", "T", True), ("slope", "T", False), ("n", "long long", False))


def test_launch_refuses_a_dtype_without_an_instance(recording):
    with pytest.raises(TypeError, match="leaky_relu_forward: no instance for dtype float16"):
        cuda.launch("leaky_relu", "leaky_relu_forward", np.float16, 1)
    assert recording.launched == []


# ---- owned gradients ----

def shares_memory(a, b):
    return bool(backend.get_array_module(a.data).shares_memory(a.data, b.data))


def test_every_grad_is_dense_and_its_own(device):
    a, b = leaf(np.ones((3, 4)), device), leaf(np.ones((3, 4)), device)
    e, W = leaf(np.ones((2, 6)), device), leaf(np.ones((4, 3)), device)
    row = leaf(np.ones((1, 4)), device)
    x = minigan.tensor(np.ones((5, 3)), device=device)
    # Add gives gy to a, b and row's broadcast; reshape gives e a view of it; W gets a transpose
    ((a + b + row + e.reshape(3, 4)).sum() + (x @ W.T).sum()).backward()
    leaves = [a, b, e, W, row]
    for t in leaves:
        assert t.grad.data.flags.c_contiguous, t.grad.data.strides
    for i, s in enumerate(leaves):
        for t in leaves[i + 1:]:
            assert not shares_memory(s.grad, t.grad)
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.cpu().numpy(), np.ones((3, 4)))


def test_a_root_gradient_is_not_aliased(gpu):
    x = leaf(np.zeros(3), gpu)
    seed = minigan.tensor(np.ones(3), device=gpu)
    x.backward(seed)
    assert not shares_memory(x.grad, seed)


# ---- dtypes: one TypeError, naming the op, on every device ----

def test_mixed_dtypes_are_refused_alike(device):
    f32 = minigan.tensor(RNG.standard_normal((4, 3, 5, 5)).astype(np.float32), device=device)
    f64 = minigan.tensor(RNG.uniform(0, 1, (4, 3, 5, 5)), device=device)
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: expected input, "
                                        "target of one dtype, got float32, float64"):
        F.binary_cross_entropy_with_logits(f32, f64)
    with pytest.raises(TypeError, match="batch_norm: expected input, weight, bias, "
                                        "running_mean, running_var of one dtype, got float64"):
        nn.BatchNorm2d(3).to(device)(f64)
    with pytest.raises(TypeError, match="conv2d: expected input, weight of one dtype"):
        F.conv2d(f32, minigan.tensor(np.ones((2, 3, 3, 3)), device=device))


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_dtypes_without_kernels_are_refused_alike(device, dtype):
    x = minigan.tensor(np.ones((4, 3, 5, 5), dtype), device=device)
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=f"leaky_relu: dtype {name} is not supported"):
        F.leaky_relu(x, 0.2)
    with pytest.raises(TypeError, match=f"binary_cross_entropy_with_logits: dtype {name}"):
        F.binary_cross_entropy_with_logits(x, x)
    with pytest.raises(TypeError, match=f"batch_norm: dtype {name}"):
        F.batch_norm(x, None, None, training=True)
    with pytest.raises(TypeError, match=f"conv2d: dtype {name}"):
        F.conv2d(x, minigan.tensor(np.ones((2, 3, 3, 3), dtype), device=device))


def test_adam_refuses_a_parameter_it_has_no_kernel_for(device):
    p = nn.Parameter(minigan.tensor(np.ones(3, np.float16), device=device))
    p.grad = minigan.tensor(np.ones(3, np.float16), device=device)
    with pytest.raises(TypeError, match="Adam: dtype float16 is not supported"):
        minigan.optim.Adam([p]).step()
    q = nn.Parameter(minigan.tensor(np.ones(3, np.float32), device=device))
    q.grad = minigan.tensor(np.ones(3, np.float64), device=device)
    with pytest.raises(TypeError, match="Adam: expected parameter, grad of one dtype"):
        minigan.optim.Adam([q]).step()


# ---- launches that need many blocks ----

def test_grid_stride_loops_and_many_partial_sums(gpu, monkeypatch):
    # two blocks at most: every elementwise kernel loops, and BatchNorm's 800 values per
    # channel and BCE's partial sums run past one block's 256 threads
    monkeypatch.setattr(cuda, "MAX_BLOCKS", 2)
    x = RNG.standard_normal((8, 3, 10, 10)).astype(np.float32)
    W = (0.1 * RNG.standard_normal((4, 3, 4, 4))).astype(np.float32)

    def run(device):
        xt, Wt = leaf(x, device), leaf(W, device)
        h = F.leaky_relu(F.batch_norm(xt, None, None, training=True), 0.2)
        y = F.conv2d(h, Wt, stride=2, padding=1)
        loss = F.binary_cross_entropy_with_logits(y, minigan.zeros_like(y))
        loss.backward()
        return [loss, xt.grad, Wt.grad]
    same_on_cpu_and(gpu, run, rtol=1e-4, atol=1e-5)


def test_gradient_penalties_keep_batch_norm_and_bce_on_their_kernels(gpu, monkeypatch):
    """With create_graph (R1, WGAN-GP) the gradients of BatchNorm and BCE-with-logits are
    the same gradient ops as without: their kernels run, not a chain of generic calls."""
    launched = []
    launch = cuda.launch

    def recording(file, name, *args):
        launched.append(name)
        return launch(file, name, *args)

    monkeypatch.setattr(cuda, "launch", recording)
    minigan.manual_seed(0)
    D = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2),
                      nn.Linear(4, 1)).to(gpu).double()
    x = leaf(RNG.standard_normal((5, 6)), gpu)
    loss = F.binary_cross_entropy_with_logits(D(x), minigan.ones(5, 1, device=gpu,
                                                                 dtype=minigan.float64))
    launched.clear()
    gx, = minigan.grad(loss, [x], create_graph=True)
    for kernel in ("bce_with_logits_backward", "batch_norm_backward_reduce",
                   "batch_norm_backward_x", "leaky_relu_backward_x"):
        assert kernel in launched, (kernel, launched)
    (gx * gx).sum().backward()          # the second derivative runs through them
    assert all(p.grad is not None for p in D.parameters())


def test_every_conv_and_linear_product_is_our_gemm_in_float32(gpu):
    """Every product runs our GEMM kernel (kernels/gemm.cu), which has no tensor-core path:
    float32 products are float32 (~1e-6 off their float64 values, where TF32's 10-bit
    mantissa would give ~1e-3), and the same bits whatever allow_tf32 allows. The conv's own
    forward, the transposed conv's (its gx) and the weight gradient, and a Linear's forward
    and its backward's products."""
    x, W = RNG.standard_normal((4, 16, 9, 9)), RNG.standard_normal((16, 16, 3, 3)) / 12
    a, Wl = RNG.standard_normal((70, 130)), RNG.standard_normal((66, 130)) / 11

    def run(device, dtype):
        xt, Wt = (leaf(v.astype(dtype), device) for v in (x, W))
        at, Wlt = (leaf(v.astype(dtype), device) for v in (a, Wl))
        y = F.conv2d(xt, Wt, padding=1)
        y.backward(y)
        z = F.linear(at, Wlt)
        z.backward(z)
        return {"conv": y, "conv gx": xt.grad, "conv gW": Wt.grad, "linear": z,
                "linear gx": at.grad, "linear gW": Wlt.grad}

    expected = {k: v.numpy() for k, v in run("cpu", np.float64).items()}
    got = {}
    try:
        for allow in (False, True):
            cuda.matmul.allow_tf32 = allow
            got[allow] = {k: v.cpu().numpy() for k, v in run(gpu, np.float32).items()}
    finally:
        cuda.matmul.allow_tf32 = False
    for k in expected:
        error = np.abs(got[False][k] - expected[k]).max() / np.abs(expected[k]).max()
        assert error < 2e-5, (k, error)
        assert got[True][k].tobytes() == got[False][k].tobytes(), k
