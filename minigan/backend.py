"""The one place that knows about devices.

A CPU tensor holds a ``numpy.ndarray`` and a CUDA tensor a ``cupy.ndarray``.
Ops never ask which device they are on: they call ``get_array_module(x)``
and write the same line for both (STYLE rule 4). Moving data between devices
and the clear error for a missing GPU live here too.
"""
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


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


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


def xp_for(device):
    """The array module that serves ``device``."""
    if parse_device(device) == "cuda":
        require_cuda()
        return cupy
    return np


def to_device(array, device):
    """Return ``array`` on ``device`` (no copy when it is already there)."""
    if parse_device(device) == "cuda":
        require_cuda()
        return cupy.asarray(array)
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy.asnumpy(array)
    return np.asarray(array)
