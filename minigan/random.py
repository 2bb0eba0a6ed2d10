"""One seeded generator for everything random in minigan: Philox4x32-10, counter-based.

The numbers are ``minigan.philox``'s: block i of a draw is Philox(seed, offset + i),
computed in NumPy there or on a GPU by ``kernels/random.cu``, bit for bit the same, so noise
on the GPU is made there: no copy from the host. A draw goes to the array namespace of its
device (``backend.arrays_for``), which holds a ``uniform`` and a ``normal`` on either side.

The generator's whole state is (seed, offset): each draw moves the offset past the blocks
it used (``get_rng_state``), so a checkpoint holds two ints and a resume continues the
stream exactly. Integers, permutations, initial weights and dropout masks are drawn from
the same stream, on the host.
"""
import math

import numpy as np

from . import backend
from .ops._args import FLOAT_TYPES
from .philox import PER_BLOCK
from .tensor import Tensor, _shape, get_default_dtype


# ---- the generator: (seed, offset) ----
_state = {"seed": 0, "offset": 0}


def manual_seed(seed):
    """Seed minigan's generator, as torch.manual_seed (NumPy's global one is left alone)."""
    seed = int(seed) % 2 ** 64
    _state.update(seed=seed, offset=0)
    return generator()


def get_rng_state():
    """The generator's state, {"seed": int, "offset": int}, which ``minigan.save`` stores."""
    return dict(_state)


def set_rng_state(state):
    if not (isinstance(state, dict) and set(state) == {"seed", "offset"}):
        raise ValueError("set_rng_state: expected {'seed', 'offset'} of minigan's Philox "
                         "generator (a state saved before minigan used Philox cannot be "
                         "continued)")
    _state.update(seed=int(state["seed"]), offset=int(state["offset"]))


def _take(count):
    """The offset of the next ``count`` blocks, which the draw then owns."""
    offset = _state["offset"]
    _state["offset"] = offset + count
    return offset


def _draw(kind, shape, dtype, device):
    """``kind`` ('uniform' or 'normal') numbers of ``shape`` and ``dtype`` on ``device``."""
    shape, dtype = tuple(shape), np.dtype(dtype or get_default_dtype())
    if dtype not in FLOAT_TYPES:
        raise TypeError(f"rand/randn: dtype {dtype} is not supported (float32 or float64)")
    arrays = backend.arrays_for(device or "cpu")
    draw = arrays.uniform if kind == "uniform" else arrays.normal
    return draw(shape, dtype, _state["seed"], _take(-(-math.prod(shape) // PER_BLOCK)))


def _as_shape(size):
    return (int(size),) if np.ndim(size) == 0 else tuple(size)


class _Generator:
    """The stream as the NumPy Generator methods that minigan.nn draws with (on the host)."""

    def random(self, size):
        return _draw("uniform", _as_shape(size), np.float64, "cpu")

    def uniform(self, low, high, size):
        return low + (high - low) * self.random(size)

    def normal(self, mean, std, size):
        return mean + std * _draw("normal", _as_shape(size), np.float64, "cpu")

    def integers(self, low, high, size):
        """Uniform in [low, high): ⌊u (high - low)⌋ with 52-bit u (a bias under 2⁻⁵² · range)."""
        u = self.random(size)
        return np.minimum(low + np.floor(u * (high - low)).astype(np.int64), high - 1)

    def permutation(self, n):
        return np.argsort(self.random(n), kind="stable")


def generator():
    return _Generator()


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    return Tensor(_draw("uniform", _shape(size), dtype, device), requires_grad=requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal."""
    return Tensor(_draw("normal", _shape(size), dtype, device), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    array = generator().integers(low, high, tuple(size))
    return Tensor(backend.to_device(array.astype(dtype or np.int64), device or "cpu"))


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return rand(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return randn(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def randperm(n, device=None):
    return Tensor(backend.to_device(generator().permutation(n), device or "cpu"))
