"""The one place that knows about devices, and the one choice between them.

A CPU tensor holds a ``numpy.ndarray`` and a CUDA tensor a ``cupy.ndarray``.
``arrays_for(x)`` is the choice: it returns the array namespace that serves an array or a
device, ``minigan.arrays`` (NumPy) or ``minigan.cuda.arrays`` (our kernels), which hold the
same functions (new arrays, fill, copy, add into, products, gather, random draws, dense,
transpose, broadcast, the host array ``Tensor.numpy`` gives; tests/test_arrays.py checks the
list). Function's dispatch
(``Function._run``) makes it once per op call, and picks ``forward_cuda`` by it; the
optimizers once per parameter in their step; what runs outside an op (``Tensor.copy_``,
``fill_``, ``numpy``, the creation functions, the engine's gradient sums, ToDevice's way
back, a loss's constants and targets, a ``BatchStream``, a random draw) calls it where it
starts. Nothing else asks which device it is on: an op's NumPy reference is
written once for both, with ``get_array_module(x)``. ``Tensor.device`` (``device_of``) is a
name, read to print a tensor, to name devices in an error, and to hand a device on
(``to(x.device)``, ``rand_like``), where the choice is made again by ``arrays_for``; no code
branches on it. Moving data between devices (``to_device``), ``is_array`` and the clear
error for a missing GPU live here too.
"""
import functools

import numpy as np

try:  # CuPy is optional: importing minigan must work without it.
    import cupy
except Exception:  # ImportError, or a CUDA driver problem at import time
    cupy = None


def gpu_available():
    """True when CuPy is importable and sees at least one GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def on_gpu(array):
    """True for a CuPy array: the one meaning of "on the device", here (``arrays_for``) and
    in minigan.cuda (its runtime's ``handles``, the kernels' argument check)."""
    return cupy is not None and isinstance(array, cupy.ndarray)


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    return cupy if any(on_gpu(a) for a in arrays) else np


def is_array(value):
    """True for an array of either device (a NumPy or a CuPy array)."""
    return isinstance(value, np.ndarray) or on_gpu(value)


def device_of(array):
    return "cuda" if get_array_module(array) is not np else "cpu"


def parse_device(device):
    """Normalize 'cpu', 'cuda', 'cuda:0' or a Device-like object to 'cpu' or 'cuda'."""
    if device is None:
        return "cpu"
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    return name


def require_cuda():
    if cupy is None:
        raise RuntimeError("device 'cuda' requested but CuPy is not installed: "
                           "pip install 'minigan[cuda13]' (or [cuda12])")
    if not gpu_available():
        raise RuntimeError("device 'cuda' requested but CuPy sees no GPU on this machine")


def to_device(array, device):
    """Return ``array`` on ``device`` (no copy when it is already there)."""
    if parse_device(device) == "cuda":
        require_cuda()
        return cupy.asarray(array)
    if on_gpu(array):
        return cupy.asnumpy(array)
    return np.asarray(array)


def arrays_for(where):
    """The array namespace of ``where``, an array or a device ('cpu', 'cuda', 'cuda:0'):
    ``minigan.cuda.arrays`` for a CuPy array or the device 'cuda' (which must be there),
    else ``minigan.arrays``."""
    if on_gpu(where):
        return _namespace("cuda")
    if isinstance(where, (np.ndarray, np.generic)):
        return _namespace("cpu")
    device = parse_device(where)
    if device == "cuda":
        require_cuda()
    return _namespace(device)


@functools.lru_cache(maxsize=None)
def _namespace(device):
    # NOTE: imported at the first choice, not with this module: minigan.cuda's modules
    # import this one, which would otherwise import them back (an import circle).
    if device == "cuda":
        from .cuda import arrays
    else:
        from . import arrays
    return arrays
