"""minigan's CPU threads: one pool owns the cores, and BLAS runs inside it.

NumPy's BLAS (OpenBLAS in the PyPI wheels) has worker threads of its own, and
after each product they spin for a while, waiting for the next. Our own threads
(the conv's pixel movers, BatchNorm, Adam) then share the cores with spinning
ones: in a dcgan28 step on two cores the pixel copies took half again as long.
So minigan keeps one owner. The first time it splits work, it sets OpenBLAS to
one thread per call (through ``openblas_set_num_threads``), and ``matmul``
splits a large product across our pool instead, each piece one single-threaded
BLAS call. Our pool's threads sleep when idle. Where the BLAS is not an OpenBLAS
we can reach (not Linux, or another BLAS), BLAS keeps its threads and ``matmul``
does not split.

    minigan.set_num_threads(1)    # everything on the calling thread, BLAS too

Work is split into fixed ranges of rows or channels, each written by one thread,
so results are the same bits on every run.
"""
import ctypes
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import cuda

_threads = os.cpu_count() or 1
SMALL = 1 << 17           # elements of work below which one thread does it
SMALL_PRODUCT = 1 << 23   # multiply-adds of a product below which one thread does it
CACHE = 1 << 20   # bytes of a block of work meant to stay in cache (L2 or L3)


def get_num_threads():
    """The number of threads minigan's CPU work runs on."""
    return _threads


def set_num_threads(n):
    """Run minigan's CPU work (and its BLAS calls) on ``n`` threads, as torch.set_num_threads."""
    global _threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _threads = n
    if n == 1 and _blas() is not None:
        _blas()(1)


@functools.lru_cache(maxsize=None)
def _pool(workers):
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minigan")


@functools.lru_cache(maxsize=None)
def _blas():
    """OpenBLAS's set_num_threads, if NumPy's BLAS is an OpenBLAS this process has loaded."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:   # not Linux: leave BLAS as it is
        return None
    for path in sorted(paths, key=lambda p: "numpy" not in p):   # NumPy's own first
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            if hasattr(lib, name):
                return getattr(lib, name)
    return None


@functools.lru_cache(maxsize=None)
def _own_blas():
    """Set OpenBLAS to one thread per call, once; False where we cannot reach it."""
    if _blas() is None:
        return False
    _blas()(1)
    return True


def split(work, n, size=None):
    """Run ``work(a, b)`` over fixed ranges [a, b) that cover [0, n), on the pool.

    ``size`` is the work's element count: below ``SMALL`` it runs on this thread, where
    handing it to another would cost more than it saves (None: split it anyway). NumPy's
    copies, ufuncs and BLAS calls release the GIL, so the ranges run at once.
    """
    workers = min(_threads, n)
    if workers < 2 or (size is not None and size < SMALL):
        work(0, n)
        return
    _own_blas()
    bounds = [n * i // workers for i in range(workers + 1)]
    jobs = [_pool(_threads).submit(work, a, b) for a, b in zip(bounds[1:-1], bounds[2:])]
    work(bounds[0], bounds[1])   # this thread takes the first range
    for job in jobs:
        job.result()


def split_blocks(work, n, size, item_bytes):
    """``split``, each thread then walking its range in blocks of about ``CACHE`` bytes
    (``item_bytes`` per index): work that makes several passes over a block finds it in
    cache after the first, so memory is read about once."""
    if size < SMALL:   # it fits in cache whole
        work(0, n)
        return
    step = max(1, CACHE // max(1, item_bytes))

    def walk(a, b):
        for i in range(a, b, step):
            work(i, min(b, i + step))
    split(walk, n, size)


def map_pieces(fn, dtype, *arrays):
    """A new C-ordered array ``out`` of ``arrays[0]``'s shape, filled by ``fn(out_piece,
    *pieces)`` over matching pieces of the arrays, flattened in C order: an elementwise op
    of several passes, run in cache-sized pieces across the cores."""
    out = np.empty(arrays[0].shape, dtype)
    flat = [a.reshape(-1) for a in (out, *arrays)]   # a view of out; views or copies of arrays
    split_blocks(lambda a, b: fn(*(f[a:b] for f in flat)), out.size, out.size, out.itemsize)
    return out


def matmul(a, b):
    """a @ b; for two NumPy matrices a (M, K), b (K, N), the rows (or, if N > M, the
    columns) of the result split across the pool.

    NOTE: each range is one single-threaded BLAS call, out= its own part of the result;
    BLAS takes a transposed a or b by flag, so views cost no copy.
    """
    if cuda.on_device(a):
        return cuda.product(a, b)   # CuPy's arrays: one launch of our GEMM kernel
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == b.ndim == 2):
        return a @ b   # a stack of matrices: one call
    m, n = a.shape[0], b.shape[1]
    if _threads < 2 or not _own_blas() or m * n * a.shape[1] < SMALL_PRODUCT:
        return a @ b
    out = np.empty((m, n), np.result_type(a, b))
    if m >= n:
        split(lambda i, j: np.matmul(a[i:j], b, out=out[i:j]), m)
    else:   # a wide product: split the columns (BLAS writes out[:, i:j] by its row stride)
        split(lambda i, j: np.matmul(a, b[:, i:j], out=out[:, i:j]), n)
    return out
