"""The array namespace of the CPU: the NumPy reference of each array-level primitive (new
arrays, fill, copy, add into, products, a batch's gather, random draws, and three moves).

``minigan.cuda.arrays`` holds the same functions for device arrays, most one or two
launches of our kernels. Code that is not an op's forward (which has ``forward_cuda``
beside it) gets one of the two namespaces from ``backend.arrays_for`` and calls it, so it
never asks which device it is on:

    arrays = backend.arrays_for(tensor.data)   # this module, or minigan.cuda.arrays
    arrays.add_into(tensor.data, g)

Every function takes and returns NumPy arrays; ``array`` and ``copy`` also take an array
of another device, which they bring here first.
"""
import numpy as np

from . import backend, philox, threads
from .autograd import profiler

device = "cpu"


def kernels_take(arrays, every_dtype=False):
    """False: no op's ``forward_cuda`` runs on the CPU (minigan.cuda.arrays says when one may)."""
    return False


def asarray(value, dtype=None):
    """``value`` (a number, a list, an array of any device) as an array, copied only if it
    must be."""
    return np.asarray(backend.to_device(value, device), dtype=dtype)


def array(value, dtype=None):
    """A new array holding a copy of ``value`` (a number, a list, an array of any device)."""
    return np.array(backend.to_device(value, device), dtype=dtype, copy=True)


def arange(start, end, step, dtype):
    return np.arange(start, end, step, dtype=dtype)


def numpy(a):
    """``a`` itself, as ``Tensor.numpy`` hands it out (no copy)."""
    return a


def fill(out, value):
    """out[...] = value, in place."""
    out[...] = value
    return out


def full(shape, value, dtype):
    """A new array of ``shape`` and ``dtype``, every element ``value``."""
    return np.full(shape, value, dtype=dtype)


def copy(out, array):
    """out[...] = array, in place (``array`` broadcast to out's shape, from any device)."""
    out[...] = backend.to_device(array, device)
    return out


def add_into(y, x):
    """y += x, in place: y and x of one shape and dtype. Returns y (for a NumPy scalar y,
    which cannot change in place, the new scalar)."""
    y += x
    return y


@profiler.timed_as("product")   # every product on the CPU, for minigan.autograd.profile
def product(a, b):
    """a @ b, batch axes broadcast: ``threads.matmul`` (two matrices split across the cores)."""
    return threads.matmul(a, b)


def gather_batch(images, order, start, count):
    """images[order[start:start + count]], uint8 pixels, scaled to float32 in [-1, 1] by
    minigan.data.pixels.to_tanh_range (kernels/batch.cu writes its formula)."""
    # NOTE: imported here: the namespace is below minigan.data, which only a BatchStream needs
    from .data.pixels import to_tanh_range
    return to_tanh_range(images[order[start:start + count]])


# Uniform numbers in [0, 1) and standard normals of (shape, dtype), from the Philox stream of a
# seed at an offset: minigan.philox, which kernels/random.cu follows bit for bit.
uniform = philox.uniform
normal = philox.normal


# ---- moves that minigan.cuda.arrays composes from its kernels ----

def dense(a):
    """``a`` itself when dense and C-ordered, else a dense copy (Function's dispatch asks it
    only of the namespace whose ``kernels_take`` an op's inputs: the GPU's)."""
    return np.ascontiguousarray(a)


def transpose(a, rows, bias=None, per_bias=1):
    """``a`` viewed as (rows, B), transposed: a new dense (B, rows) array; with ``bias``,
    out[j, r] = a[r, j] + bias[r // per_bias]."""
    out = np.ascontiguousarray(a.reshape(rows, -1).T)
    if bias is not None:
        out += np.repeat(bias, per_bias)
    return out


def broadcast(x, shape):
    """``x`` broadcast to ``shape``, as a new dense array."""
    return np.ascontiguousarray(np.broadcast_to(x, shape))
