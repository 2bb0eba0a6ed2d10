"""The GPU path's guarantees, on the emulated GPU (and on a real one where present).

Each test is a case a CuPy run got wrong, without an error, before the guarantee held:
- views that reach a kernel op (``x.T``, a slice, the broadcast gradient of ``sum``/``mean``)
  give the CPU's numbers (``check_op`` with the CPU run as reference); what a kernel would
  misread, ``cuda.launch`` refuses (tests/test_launch_count.py);
- every ``.grad`` is dense, C-ordered and its own, decided without NumPy-only flags;
- a dtype a kernel-backed op cannot take is one TypeError naming the op, on every device;
- grid-stride loops and multi-block reductions hold when a launch needs more blocks.
"""
import numpy as np
import pytest

import minigan
import minigan.functional as F
from helpers import check_op
from minigan import backend, cuda, models, nn
from minigan.penalties import gradient_penalty, r1_penalty

RNG = np.random.default_rng(7)


def grads(module):
    """The parameters' gradients (R1 gives BatchNorm's bias none: ∇ₓD does not depend on it)."""
    return [p.grad for p in module.parameters() if p.grad is not None]


def leaf(array, device):
    return minigan.tensor(array, device=device, requires_grad=True)


# ---- views that reach a kernel op ----

def test_a_critic_loss_mean_backward(gpu):
    # D(x).mean(): the last conv's gradient was a stride-0 (N, 1, 1, 1) view of one float
    def critic_grads(x):
        critic = models.WGANCritic(28, ndf=4).to(x.device)
        critic(x).mean().backward()
        return (x.grad, *grads(critic))
    check_op(critic_grads, RNG.standard_normal((3, 1, 28, 28)), device=gpu, reference="cpu",
             dtype=np.float32, rtol=1e-5, atol=1e-6)


def test_gradient_penalty_and_r1_steps(gpu):
    # grad(scores.sum(), x): the same broadcast gradient, then differentiated again
    def penalty_grads(real, fake):
        critic = models.WGANCritic(28, ndf=4).to(real.device)
        D = models.DCGANDiscriminator(28, ndf=4).to(real.device)
        gradient_penalty(critic, real, fake).backward()
        r1 = r1_penalty(D, real, gamma=10.0)
        r1.backward()
        return (*grads(critic), r1.detach(), *grads(D))
    check_op(penalty_grads, RNG.standard_normal((4, 1, 28, 28)),
             RNG.standard_normal((4, 1, 28, 28)), device=gpu, reference="cpu",
             dtype=np.float32, requires_grad=[False, False], rtol=1e-4, atol=1e-5)


def test_leaky_relu_then_sum(gpu):
    check_op(lambda x: F.leaky_relu(x, 0.2).sum(), RNG.standard_normal((5, 7)), device=gpu,
             reference="cpu", rtol=1e-5, atol=1e-6)


def test_bce_without_reduction_then_mean(gpu):
    check_op(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none").mean(),
             RNG.standard_normal((6, 3)), RNG.uniform(0, 1, (6, 3)), device=gpu,
             reference="cpu", rtol=1e-5, atol=1e-6)


def test_leaky_relu_of_a_transpose(gpu):
    check_op(lambda x: F.leaky_relu(x.T, 0.2), RNG.standard_normal((5, 7)), device=gpu,
             reference="cpu", rtol=1e-5, atol=1e-6)


def test_kernel_ops_of_sliced_and_expanded_inputs(gpu):
    def fn(x, row):
        h = F.batch_norm(x[:, ::2], None, None, training=True)          # a strided view
        loss = F.binary_cross_entropy_with_logits(row.expand(4, 3), minigan.zeros(
            4, 3, device=x.device)) + h.sum()
        return loss, h.detach()
    check_op(fn, RNG.standard_normal((4, 6, 5, 5)), RNG.standard_normal((1, 3)), device=gpu,
             reference="cpu", dtype=np.float32, rtol=1e-4, atol=1e-5)


def test_broadcast_gradients_are_written_out_dense(gpu):
    # the producer, not the kernel op, makes sum/mean/expand's gradient dense (one fill)
    x = leaf(RNG.standard_normal((1, 3)), gpu)
    y = x.expand(4, 3)
    assert y.data.flags.c_contiguous and y.data.strides[0] != 0
    y.mean().backward()
    assert x.grad.data.flags.c_contiguous
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.full((1, 3), 4 / 12))


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


def test_a_float16_leaf_gets_its_gradients_summed(device):
    # x * x gives x two gradients; float16 has no kernel of ours: CuPy's own += sums them
    x = minigan.tensor(np.array([1.5, -2.0, 0.25], np.float16), device=device,
                       requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == minigan.float16
    assert backend.to_device(x.grad.data, "cpu").tolist() == [3.0, -4.0, 0.5]


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_a_product_on_the_gpu_is_our_gemm_or_a_type_error(gpu, dtype):
    """Our GEMM has float32 and float64 instances; matmul and linear of another dtype on the
    GPU are its launch's TypeError, never a cuBLAS call. NumPy multiplies them on the CPU."""
    a, b = np.ones((2, 3), dtype), np.ones((3, 4), dtype)
    assert (minigan.tensor(a) @ minigan.tensor(b)).tolist() == (a @ b).tolist()
    assert F.linear(minigan.tensor(a), minigan.tensor(b.T)).tolist() == (a @ b).tolist()
    ga, gb = (minigan.tensor(v, device=gpu) for v in (a, b))
    with pytest.raises(TypeError, match=f"kernel gemm: no instance for dtype {np.dtype(dtype)}"):
        ga @ gb
    with pytest.raises(TypeError, match="kernel gemm: no instance"):
        F.linear(ga, minigan.tensor(b.T.copy(), device=gpu))


def test_each_product_is_tagged_once_and_named_alike(device):
    """A product is "product" work once, named as the namespaces' ``product`` on both
    devices: MatMul's, Linear's and the conv's, forward and backward."""
    a = minigan.randn(5, 3, device=device, requires_grad=True)
    w = minigan.randn(4, 3, device=device)
    x, W = minigan.randn(2, 3, 6, 6, device=device), minigan.randn(4, 3, 3, 3, device=device)
    with minigan.autograd.profile() as prof:
        (a @ w.T).sum().backward()
        F.linear(a, w).sum().backward()
        F.conv2d(x, W)
    products = {(s.name, s.phase): s.calls for s in prof.work_averages() if s.kind == "product"}
    # forward: MatMul, Linear, the conv; backward: ga of MatMul, gx of Linear (w needs none)
    assert products == {("product", "forward"): 3, ("product", "backward"): 2}, products


def test_dropout_draws_its_mask_where_x_is(gpu):
    """The mask's numbers are the seeded Philox stream's float64 uniforms, drawn on x's
    device (kernels/random.cu gives NumPy's bits): the CPU's mask, with no copy from the
    host."""
    minigan.manual_seed(3)
    on_cpu = nn.Dropout(0.3)(minigan.ones(40, 50)).numpy()
    minigan.manual_seed(3)
    moved = []
    to_device = backend.to_device
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backend, "to_device", lambda a, d: moved.append(d) or to_device(a, d))
        on_gpu = nn.Dropout(0.3)(minigan.ones(40, 50, device=gpu))
    assert moved == [], moved
    assert on_gpu.cpu().numpy().tobytes() == on_cpu.tobytes()
    assert 0.6 < (on_cpu != 0).mean() < 0.8


# ---- launches that need many blocks ----

def test_grid_stride_loops_and_many_partial_sums(gpu, monkeypatch):
    # two blocks at most: every elementwise kernel loops, and BatchNorm's 800 values per
    # channel and BCE's partial sums run past one block's 256 threads
    monkeypatch.setattr(cuda.launching, "MAX_BLOCKS", 2)

    def fn(x, W):
        h = F.leaky_relu(F.batch_norm(x, None, None, training=True), 0.2)
        y = F.conv2d(h, W, stride=2, padding=1)
        return F.binary_cross_entropy_with_logits(y, minigan.zeros_like(y))
    check_op(fn, RNG.standard_normal((8, 3, 10, 10)), 0.1 * RNG.standard_normal((4, 3, 4, 4)),
             device=gpu, reference="cpu", dtype=np.float32, rtol=1e-4, atol=1e-5)


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
