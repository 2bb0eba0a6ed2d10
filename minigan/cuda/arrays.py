"""The array namespace of the GPU: ``minigan.arrays``' functions, for device arrays, each one
or a few launches of our kernels. The NumPy reference of each is there, under the same name.

``backend.arrays_for``, the one choice of device (Function's dispatch makes it there too),
hands out this module for a CuPy array or the device 'cuda', and ``minigan.arrays`` for the
rest. Our kernels have instances for float32 and float64 only. ``fill``, ``copy`` and
``add_into`` launch them for float arrays of one dtype and give the rest (an integer count,
a mask, a float16 gradient) to CuPy's own op; ``kernels_take`` tells Function's dispatch
when an op's ``forward_cuda`` can take its inputs; ``product`` is always our GEMM.

This module sits above the chain loading <- launching <- memory <- gemm, and above
minigan.autograd.profiler, which tags its ``product``; nothing in the chain imports it.
"""
import math

import numpy as np

from .. import backend
from ..autograd import profiler
from ..philox import PER_BLOCK
from . import gemm
from .launching import blocks_for, launch, pointer, tiles
from .loading import FLOAT_TYPES
from .memory import copy, dense, empty, fill, full, ours

device = "cuda"


def kernels_take(arrays, every_dtype=False):
    """True when an op's ``forward_cuda`` runs on these arrays: all of one dtype, float32 or
    float64 (the instances every kernel has); any dtype for an op whose every array work on
    the GPU is ours (``every_dtype``: MatMul, Linear), whose launch then refuses the rest."""
    dtype = arrays[0].dtype
    return every_dtype or dtype in FLOAT_TYPES and all(a.dtype == dtype for a in arrays[1:])


def asarray(value, dtype=None):
    """``value`` (a number, a list, an array of any device) as a device array: CuPy's
    asarray."""
    return backend.cupy.asarray(value, dtype=dtype)


def array(value, dtype=None):
    """A new device array holding a copy of ``value`` (from any device): CuPy's array."""
    return backend.cupy.array(backend.to_device(value, device), dtype=dtype, copy=True)


def arange(start, end, step, dtype):
    return backend.cupy.arange(start, end, step, dtype=dtype)


def numpy(a):
    """``Tensor.numpy`` of a device array: refused, as PyTorch refuses it (no silent copy)."""
    raise TypeError("numpy: cannot convert a cuda tensor to numpy; call .cpu() first")


def add_into(y, x):
    """y += x, in place (a gradient being summed): one launch of kernels/arith.cu's add_into
    for float32 or float64 y and x of one shape and dtype, y dense; CuPy's own += for the
    rest."""
    if ours(y, x):   # the rule of fill and copy (minigan.cuda.memory)
        launch("arith", "add_into", y.dtype, blocks_for(y.size), y, dense(x), np.int64(y.size))
    else:   # NOTE: a float16 or integer y: no kernel of ours takes it
        y += x
    return y


@profiler.timed_as("product")   # every product on the GPU, for minigan.autograd.profile
def product(a, b):
    """a @ b of two device arrays, batch axes broadcast: our GEMM (minigan.cuda.gemm), for
    every dtype (a dtype without an instance is its launch's TypeError, never cuBLAS)."""
    return gemm.product(a, b)


def gather_batch(images, order, start, count):
    """images[order[start:start + count]] as float32 p / 127.5 - 1: one launch of
    kernels/batch.cu (``order`` is an int64 device array)."""
    out = empty((count, *images.shape[1:]), np.float32)
    launch("batch", "gather_batch", np.float32, blocks_for(out.size), images, order, out,
           np.int64(start), np.int64(out.size // count), np.int64(out.size))
    return out


def uniform(shape, dtype, seed, offset):
    """minigan.philox.uniform, made on the device: one launch of kernels/random.cu, a thread
    a Philox block of PER_BLOCK numbers."""
    out, n = empty(shape, dtype), math.prod(shape)
    if n:
        launch("random", "random_uniform", dtype, blocks_for(-(-n // PER_BLOCK)), out,
               np.uint64(seed), np.uint64(offset), np.int64(n))
    return out


def normal(shape, dtype, seed, offset):
    """minigan.philox.normal, made on the device: as ``uniform``."""
    out, n = empty(shape, dtype), math.prod(shape)
    if n:
        launch("random", "random_normal", dtype, blocks_for(-(-n // PER_BLOCK)), out,
               np.uint64(seed), np.uint64(offset), np.int64(n))
    return out


# ---- moves that compose the others' kernels, each value copied as it is (but _tile's) ----

def transpose(a, rows, bias=None, per_bias=1):
    """``a`` viewed as (rows, B), transposed: a new dense (B, rows) array, one launch of
    kernels/conv.cu's transpose2d; with ``bias``, out[j, r] = a[r, j] + bias[r // per_bias]
    (a conv's from_batch_last adds its bias so)."""
    cols = a.size // rows if rows else 0
    out = empty((cols, rows), a.dtype)
    launch("conv", "transpose2d", a.dtype, tiles(rows, cols), dense(a), pointer(bias), out,
           np.int64(rows), np.int64(cols), np.int64(per_bias))
    return out


def _tile(a, n):
    """n copies of ``a``, one after the other: a new dense (n, a.size) array.

    NOTE: -0 + v is v for every v (+0, -0, inf and NaN too), so a fill of -0 then
    kernels/arith.cu's add_bias copies each value exactly: two launches. The one exception:
    a float32 subnormal v, flushed to 0 by the -ftz=true that CuPy compiles every kernel with.
    """
    out = fill(empty((n, a.size), a.dtype), -0.0)
    launch("arith", "add_bias", a.dtype, blocks_for(out.size), out, dense(a),
           np.int64(a.size), np.int64(out.size))
    return out


def broadcast(x, shape):
    """``x`` broadcast to ``shape``, as a new dense array (np.broadcast_to's values): for each
    run of axes where x has 1, x viewed as (P, 1, Q) is spread to (P, n, Q) by _tile and, for
    P > 1, two transposes. A view of x where nothing is spread."""
    shape = tuple(shape)
    c = dense(x).reshape((1,) * (len(shape) - x.ndim) + tuple(x.shape))
    axis = 0
    while axis < len(shape):
        if c.shape[axis] == shape[axis]:
            axis += 1
            continue
        end = axis
        while end < len(shape) and c.shape[end] != shape[end]:
            end += 1
        p, n, q = math.prod(c.shape[:axis]), math.prod(shape[axis:end]), math.prod(c.shape[end:])
        if p == 1:        # (n, Q)
            spread = _tile(c, n)
        elif q == 1:      # (P, 1) -> (n, P) -> (P, n)
            spread = transpose(_tile(c, n), n)
        else:             # (P, Q) -> (Q, P) -> (n, Q, P) -> (P, n, Q)
            spread = transpose(_tile(transpose(c, p), n), n * q)
        c = spread.reshape(c.shape[:axis] + shape[axis:end] + c.shape[end:])
        axis = end
    return c
