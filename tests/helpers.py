"""The one test helper every op test uses, and the one list of devices (STYLE rule 9)."""
import numpy as np
import pytest

import minigan
from minigan.autograd import gradcheck, gradgradcheck

NO_GPU = "no GPU (CuPy missing or no device)"

# NOTE: tests on a real GPU carry the mark 'gpu': scripts/gpu_check.py runs them with -m gpu
_REAL_GPU = pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not minigan.gpu_available(), reason=NO_GPU)])
GPUS = ["emulated", _REAL_GPU]   # the GPU path: on the emulator everywhere, and on a real GPU
DEVICES = ["cpu", *GPUS]


def check_op(fn, *arrays, device, reference=None, atol=1e-10, rtol=1e-7, check_gradgrad=True,
             requires_grad=None, grad_atol=1e-5, grad_rtol=1e-3):
    """Check ``fn`` (tensors in, a tensor or a tuple of tensors out) on ``device``.

    Every array becomes a tensor on ``device``; float arrays become float64 and
    require grad (``requires_grad``, one bool per array, overrides that).
    Checks, in order:
      - forward: the outputs are on ``device``, float outputs are float64, and
        they equal ``reference(*arrays)`` (NumPy, same arrays) within atol/rtol;
      - gradcheck: backward against central differences (grad_atol/grad_rtol);
      - gradgradcheck: the backward's own backward, unless check_gradgrad=False.
    Returns the outputs of ``fn``.
    """
    arrays = [np.asarray(a) for a in arrays]
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    inputs = [minigan.tensor(a, device=device, requires_grad=rg)
              for a, rg in zip(arrays, requires_grad)]

    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    for y in outs:
        assert y.device == device, f"output on {y.device}, expected {device}"
        assert y.dtype.kind != "f" or y.dtype == np.float64, f"float64 in, {y.dtype} out"
    if reference is not None:
        expected = reference(*arrays)
        expected = expected if isinstance(expected, tuple) else (expected,)
        assert len(outs) == len(expected), f"{len(outs)} outputs, reference has {len(expected)}"
        for y, e in zip(outs, expected):
            got = y.cpu().numpy()
            assert got.shape == np.shape(e), f"shape {got.shape}, reference {np.shape(e)}"
            np.testing.assert_allclose(got, e, atol=atol, rtol=rtol)

    if any(requires_grad):
        gradcheck(fn, inputs, atol=grad_atol, rtol=grad_rtol)
        if check_gradgrad:
            gradgradcheck(fn, inputs, atol=grad_atol, rtol=grad_rtol)
    return out
