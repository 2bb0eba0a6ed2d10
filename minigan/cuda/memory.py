"""Device arrays for our kernels: new ones, dense ones, copies and fills, and keeping them
alive while a step is captured.

``empty`` asks the runtime (``loading.runtime``) for every new array a kernel writes; while
the tests poison outputs, it starts as NaN, so an element a kernel forgets to write shows.
``fill``, ``full`` and ``copy`` are one launch each of kernels/arith.cu where our kernels
take the arrays, CuPy's own op for the rest (their one home: minigan.cuda.arrays hands
them out as the namespace's).

While a step is captured into a CUDA graph (``minigan.cuda.graphs``), the graph holds the
addresses of every array made for it, and writes there on every replay: ``keep_alive()``
keeps each of them, for as long as its caller holds the list.
"""
import contextlib

import numpy as np

from .. import backend
from . import launching, loading

_kept = None   # inside keep_alive(): every array made since it began


@contextlib.contextmanager
def keep_alive():
    """``with keep_alive() as kept:`` every array ``empty`` makes inside the block is
    appended to ``kept``, which keeps it alive. Not nested: one capture at a time."""
    global _kept
    if _kept is not None:
        raise RuntimeError("keep_alive: already keeping the arrays of another capture alive")
    _kept = kept = []
    try:
        yield kept
    finally:
        _kept = None


def empty(shape, dtype):
    """A new array for a kernel to write (NaN-filled while the tests poison outputs)."""
    out = loading.runtime.empty(shape, dtype)
    if _kept is not None:   # NOTE: a captured graph writes here on every replay: never freed
        _kept.append(out)
    return out


def empty_like(array):
    return empty(array.shape, array.dtype)


def dense(array):
    """``array`` itself when dense and C-ordered, else a dense copy (what a kernel may read)."""
    if array.flags.c_contiguous:
        return array
    return backend.get_array_module(array).ascontiguousarray(array)


# NOTE: fill, copy and full (and cuda.arrays' add_into) have one rule, ``ours``: one launch of kernels/arith.cu where our kernels
# take the arrays (float32 or float64, one dtype, dense), CuPy's own op for the rest (an
# integer count, a bool mask, a view, a host array): a CuPy fill costs ~6x our launch in
# host time, and our kernels have no other instances.

def ours(out, *arrays):
    """True when kernels/arith.cu takes ``out`` (and ``arrays``, device arrays of its shape)."""
    return out.dtype in loading.FLOAT_TYPES and out.flags.c_contiguous and all(
        launching.on_device(a) and a.dtype == out.dtype and a.shape == out.shape
        for a in arrays)


def fill(out, value):
    """out[...] = value, in place."""
    if ours(out):
        launching.launch("arith", "fill", out.dtype, launching.blocks_for(out.size), out,
                         launching.scalar(value, out.dtype), np.int64(out.size))
    else:
        out[...] = value
    return out


def full(shape, value, dtype):
    """A new device array of ``shape`` and ``dtype``, every element ``value``."""
    if np.dtype(dtype) in loading.FLOAT_TYPES:
        return fill(empty(shape, dtype), value)
    return backend.cupy.full(shape, value, dtype=dtype)


def copy(out, array):
    """out[...] = array, in place (``array`` broadcast to out's shape, from any device)."""
    if ours(out, array):
        launching.launch("arith", "copy", out.dtype, launching.blocks_for(out.size), out,
                         dense(array), np.int64(out.size))
    else:
        out[...] = backend.to_device(array, "cuda")
    return out
