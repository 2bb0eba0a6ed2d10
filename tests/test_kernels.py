"""Our CUDA kernels, run on the CPU through the emulator in tests/cuda_emu.

Every kernel-backed op runs its ``forward_cuda`` path (the launch code, grid
sizes and kernel of a GPU run) on NumPy arrays and is compared with the NumPy
reference path on the same inputs. New outputs start as NaN, so an element a
kernel forgets to write fails. The same checks on a real GPU are in
test_ops.py / test_conv.py (device "cuda") and scripts/gpu_check.sh.
"""
import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import cuda
from minigan.autograd import gradcheck, gradgradcheck
from minigan.optim import adam_update, adam_update_cuda

import cuda_emu


@pytest.fixture(scope="session")
def emulator_lib(tmp_path_factory):
    try:
        lib = cuda_emu.build(str(tmp_path_factory.mktemp("cuda_emu")))
    except Exception as e:   # a compiler without C++20 <barrier>, say
        pytest.skip(f"cannot build the kernel emulator: {e}")
    if lib is None:
        pytest.skip("no g++ to build the kernel emulator")
    return lib


@pytest.fixture
def emulated(emulator_lib, monkeypatch):
    """Inside this fixture, NumPy arrays run through our CUDA kernels."""
    monkeypatch.setattr(cuda, "runtime", cuda_emu.EmulatorRuntime(emulator_lib))


def run_both(fn, arrays, emulated_runtime, requires_grad=True):
    """(outputs, grads) of fn on the reference path and on the kernel path."""
    results = []
    for runtime in (cuda.CupyRuntime(), emulated_runtime):
        cuda.runtime = runtime
        inputs = [minigan.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")
                  for a in arrays]
        out = fn(*inputs)
        seed = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
        out.backward(minigan.tensor(seed))
        results.append((out.numpy().copy(), [x.grad.numpy().copy() for x in inputs
                                             if x.grad is not None]))
    cuda.runtime = emulated_runtime
    return results


def assert_close(reference, kernels, rtol, atol=1e-6):
    (y_ref, g_ref), (y_k, g_k) = reference, kernels
    assert not np.isnan(y_k).any(), "a kernel left an output element unwritten"
    np.testing.assert_allclose(y_k, y_ref, rtol=rtol, atol=atol)
    assert len(g_ref) == len(g_k)
    for a, b in zip(g_ref, g_k):
        assert not np.isnan(b).any()
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_kernels(emulated, dtype):
    x = rng.standard_normal((5, 7)).astype(dtype)
    reference, kernels = run_both(lambda x: F.leaky_relu(x, 0.2), [x], cuda.runtime)
    assert_close(reference, kernels, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_kernels(emulated, reduction, weighted):
    x = (rng.standard_normal((37, 3)) * 4).astype(np.float32)
    x[0, 0], x[1, 1] = 1e4, -1e4                         # the stable formula must hold here
    t = rng.uniform(0, 1, (37, 3)).astype(np.float32)    # soft targets: label smoothing
    kw = dict(weight=rng.uniform(0.5, 2, (37, 3)).astype(np.float32),
              pos_weight=rng.uniform(0.5, 2, 3).astype(np.float32)) if weighted else {}

    def fn(x, t):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
        return loss if reduction == "none" else loss.reshape(1)
    reference, kernels = run_both(fn, [x, t], cuda.runtime)
    assert_close(reference, kernels, rtol=1e-5)


def test_bce_with_logits_reduction_over_many_blocks(emulated):
    # more elements than one block's threads: the partial sums and their fixed-order total
    x = rng.standard_normal(3000).astype(np.float64)
    t = (rng.uniform(size=3000) > 0.5).astype(np.float64)
    reference, kernels = run_both(lambda x, t: F.binary_cross_entropy_with_logits(x, t).reshape(1),
                                  [x, t], cuda.runtime)
    assert_close(reference, kernels, rtol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4, 3)])
def test_batch_norm_training_kernels(emulated, shape):
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
    beta = rng.standard_normal(shape[1]).astype(np.float32)
    stats = {}
    for name, runtime in (("reference", cuda.CupyRuntime()), ("kernels", cuda.runtime)):
        cuda.runtime = runtime
        rm, rv = minigan.zeros(shape[1]), minigan.ones(shape[1])
        x_t, g_t, b_t = (minigan.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        y = F.batch_norm(x_t, rm, rv, g_t, b_t, training=True, momentum=0.3, eps=1e-5)
        (y * minigan.tensor(np.linspace(-1, 1, y.numel()).reshape(shape).astype(np.float32))).sum().backward()
        stats[name] = [a.numpy().copy() for a in (y, rm, rv, x_t.grad, g_t.grad, b_t.grad)]
    for a, b in zip(stats["reference"], stats["kernels"]):
        assert not np.isnan(b).any()
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_batch_norm_eval_kernel(emulated):
    x = rng.standard_normal((4, 3, 2, 2))
    rm, rv = minigan.tensor(rng.standard_normal(3)), minigan.tensor(rng.uniform(0.5, 2, 3))
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    reference, kernels = run_both(
        lambda x, g, b: F.batch_norm(x, rm, rv, g, b, training=False), [x, gamma, beta],
        cuda.runtime)
    assert_close(reference, kernels, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_kernel(emulated, dtype, weight_decay):
    shape = (300,)
    p0, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    m0, v0 = rng.standard_normal(shape).astype(dtype), rng.uniform(0, 1, shape).astype(dtype)
    args = (3, 1e-3, 0.5, 0.999, 1e-8, weight_decay)
    p1, m1, v1 = p0.copy(), m0.copy(), v0.copy()
    adam_update(p1, g, m1, v1, *args)
    p2, m2, v2 = p0.copy(), m0.copy(), v0.copy()
    adam_update_cuda(p2, g, m2, v2, *args)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in ((p1, p2), (m1, m2), (v1, v2)):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-7)


def test_kernel_paths_pass_gradcheck_and_gradgradcheck(emulated):
    # float64 through the kernels: first derivatives use the fused backward kernels,
    # second derivatives the differentiable formulas around them
    x = minigan.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    t = minigan.tensor(rng.uniform(0, 1, (4, 3)), requires_grad=True)
    g = minigan.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = minigan.tensor(rng.standard_normal(3), requires_grad=True)

    def fn(x, t, g, b):
        h = F.batch_norm(x, None, None, g, b, training=True)
        return F.binary_cross_entropy_with_logits(F.leaky_relu(h, 0.2), t)
    assert gradcheck(fn, (x, t, g, b))
    assert gradgradcheck(fn, (x, t, g, b))


def test_kernels_are_deterministic(emulated):
    x = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    outs = []
    for _ in range(2):
        x_t = minigan.tensor(x, requires_grad=True)
        y = F.leaky_relu(F.batch_norm(x_t, None, None, training=True), 0.2)
        loss = F.binary_cross_entropy_with_logits(y, minigan.zeros_like(y))
        loss.backward()
        outs.append((loss.numpy().copy(), x_t.grad.numpy().copy()))
    assert outs[0][0].tobytes() == outs[1][0].tobytes()
    assert outs[0][1].tobytes() == outs[1][1].tobytes()
