"""One seeded generator for everything random in minigan.

Numbers are drawn on the CPU by NumPy's PCG64 and then moved to the device, so
a fixed seed gives the same numbers on the CPU and on the GPU.
"""
import numpy as np

from . import backend
from .tensor import Tensor, _shape, get_default_dtype

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Seed minigan's generator (and NumPy's global one, for user code that uses it)."""
    global _generator
    _generator = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)
    return _generator


def generator():
    return _generator


def get_rng_state():
    """The generator's state, a plain dict that ``minigan.save`` can store."""
    return _generator.bit_generator.state


def set_rng_state(state):
    _generator.bit_generator.state = state


def _make(array, dtype, device, requires_grad):
    dtype = np.dtype(dtype or get_default_dtype())
    return Tensor(backend.to_device(array.astype(dtype, copy=False), device or "cpu"),
                  requires_grad=requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    return _make(_generator.random(_shape(size)), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal."""
    return _make(_generator.standard_normal(_shape(size)), dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    array = _generator.integers(low, high, size=tuple(size))
    return Tensor(backend.to_device(array.astype(dtype or np.int64), device or "cpu"))


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return rand(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return randn(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def randperm(n, device=None):
    return Tensor(backend.to_device(_generator.permutation(n), device or "cpu"))
