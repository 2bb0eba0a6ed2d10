"""The one test helper every op test uses, and the one list of devices (a test is parametrized by device, never copied for the GPU)."""
import numpy as np
import pytest

import minigan
from minigan.autograd import gradcheck, gradgradcheck, run_backward
from minigan.testing import shapes

NO_GPU = "no GPU (CuPy missing or no device)"

# NOTE: tests on a real GPU carry the mark 'gpu': scripts/gpu_check.py runs them with -m gpu
_REAL_GPU = pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not minigan.gpu_available(), reason=NO_GPU)])
GPUS = ["emulated", _REAL_GPU]   # the GPU path: on the emulator everywhere, and on a real GPU
DEVICES = ["cpu", *GPUS]
# NOTE: the emulator runs each kernel launch at a CPU thread's speed; a test that makes
# thousands (gradgradcheck of a whole critic) runs there in the slow set only, with
# @pytest.mark.parametrize("device", SLOW_ON_THE_EMULATOR, indirect=True)
SLOW_ON_THE_EMULATOR = ["cpu", pytest.param("emulated", marks=pytest.mark.slow), _REAL_GPU]


# The NumPy references and the shapes the op tests share (tests/test_ops.py, test_layer_ops.py)
SMALL = shapes(max_dims=3, max_side=3)


def sigmoid_np(x):
    return 1 / (1 + np.exp(-x))


def softplus_np(x):
    return np.logaddexp(0, x)


def check_op(fn, *arrays, device, reference=None, dtype=np.float64, atol=1e-10, rtol=1e-7,
             check_grad=None, check_gradgrad=True, full_limit=256, requires_grad=None,
             grad_atol=1e-5, grad_rtol=1e-3):
    """Check ``fn`` (tensors in, a tensor or a tuple of tensors out) on ``device``.

    Every array becomes a tensor on ``device``; float arrays become ``dtype`` and
    require grad (``requires_grad``, one bool per array, overrides that).
    ``reference`` is NumPy (a function of the same arrays), or "cpu": the same ``fn`` on
    CPU tensors of the same arrays, each run after ``minigan.manual_seed(0)`` so that
    what ``fn`` builds or draws is the same on both.
    Checks, in order:
      - forward: the outputs are on ``device``, float outputs are ``dtype``, and they
        equal the reference's within atol/rtol (a NaN where the reference has none, as a
        kernel's unwritten output element is on the GPUs, fails);
      - with "cpu": the outputs that require grad are pushed back from one random
        cotangent on both devices, and the inputs' ``.grad`` agree within atol/rtol;
      - gradcheck (float64): backward against central differences (grad_atol/grad_rtol;
        inputs over ``full_limit`` elements along random directions); by default done
        with a NumPy reference or none, and not with "cpu", whose inputs are kernel-sized;
      - gradgradcheck: the backward's own backward, with gradcheck, unless check_gradgrad=False.
    Returns the outputs of ``fn`` (on ``device``).
    """
    arrays = [np.asarray(a) for a in arrays]
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    runs = [device] if reference != "cpu" else ["cpu", device]
    results = []
    for on in runs:
        if reference == "cpu":
            minigan.manual_seed(0)
        inputs = [minigan.tensor(a, device=on, requires_grad=rg)
                  for a, rg in zip(arrays, requires_grad)]
        out = fn(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        for y in outs:
            assert y.device == on, f"output on {y.device}, expected {on}"
            assert y.dtype.kind != "f" or y.dtype == dtype, f"{np.dtype(dtype)} in, {y.dtype} out"
        results.append([y.cpu().numpy().copy() for y in outs])
        if reference == "cpu":
            results[-1] += _seeded_grads(outs, inputs)
    labels = [f"output {i}" for i in range(len(outs))] + [
        f"the grad of input {k}" for k, rg in enumerate(requires_grad) if rg]
    expected = results[0] if reference == "cpu" else None
    if callable(reference):
        expected = reference(*arrays)
        expected = list(expected) if isinstance(expected, tuple) else [expected]
        assert len(outs) == len(expected), f"{len(outs)} outputs, reference has {len(expected)}"
    if expected is not None:
        assert len(results[-1]) == len(expected), "the devices gave different numbers of results"
        for label, got, e in zip(labels, results[-1], expected):
            assert got.shape == np.shape(e), f"{label}: {got.shape}, reference {np.shape(e)}"
            np.testing.assert_allclose(got, e, atol=atol, rtol=rtol, err_msg=label)

    if check_grad is None:
        check_grad = reference != "cpu" and np.dtype(dtype) == np.float64
    if check_grad and any(requires_grad):
        options = dict(atol=grad_atol, rtol=grad_rtol, full_limit=full_limit)
        gradcheck(fn, inputs, **options)
        if check_gradgrad:
            gradgradcheck(fn, inputs, **options)
    return out


def _seeded_grads(outs, inputs):
    """The gradients of the inputs that require grad, once the outputs that require grad
    are pushed back from cotangents drawn from default_rng(1); none when no output does."""
    roots = [y for y in outs if y.requires_grad]
    if not roots:
        return []
    rng = np.random.default_rng(1)
    seeds = [minigan.tensor(rng.standard_normal(y.shape).astype(y.dtype), device=y.device)
             for y in roots]
    run_backward(roots, seeds)
    grads = [x.grad for x in inputs if x.requires_grad]
    assert all(g is not None for g in grads), "an input that requires grad got no gradient"
    return [g.cpu().numpy().copy() for g in grads]
