"""minigan's CPU threads: work cut into ranges, run on a pool, with BLAS kept to one thread.

Two rules, and the reasons for them:

* **The same bits whatever the thread count.** Work whose result could change
  with where a range ends (a product, a sum over a block) is cut by ``split``
  and ``matmul`` into pieces that depend on the shape alone: ``split`` into
  pieces of about ``PIECE`` bytes (which also keeps a piece in cache across its
  passes), ``matmul`` into ``product_pieces``. One thread runs the same pieces
  one after the other, so a run resumed on a machine with another core count
  does not drift. Copies and per-element arithmetic, where no bit depends on the
  ranges, are ``spread`` one range a thread: the fewest NumPy calls, and the
  largest, which matters because NumPy holds the GIL through a small strided call
  (two threads doing 16 strided adds of 12,544 floats each took twice as long as
  one; at 50,000 floats a call they overlapped).
* **While minigan's work runs, NumPy's OpenBLAS runs one thread per call.** Its
  worker threads spin for a while after each product, and our threads would share
  the cores with them; and a product cut into pieces must be one single-threaded
  call a piece. So ``run`` and ``matmul`` set OpenBLAS to one thread
  (``openblas_set_num_threads``) and put back the count they found when they
  return: the user's own NumPy calls keep every BLAS thread they had (but for a
  call made from another thread while minigan's work runs: the count is the
  process's). Where NumPy's BLAS is not an OpenBLAS we can reach, it keeps its
  threads, and ``matmul`` makes each product one call (its bits are then the
  BLAS's affair).

    minigan.set_num_threads(1)    # everything on the calling thread

The OpenBLAS is found through threadpoolctl where it is installed, and otherwise
in /proc/self/maps (Linux).
"""
import ctypes
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from . import memory

_threads = os.cpu_count() or 1
PIECE = 1 << 20   # bytes of a piece of work meant to stay in cache (L2) across its passes
# NOTE: each piece of a product packs the whole of its other operand again. On the 2-core
# Xeon of 2026-12-05, 4 pieces cost 1-6% over 2 (a dcgan28 step 3% slower), 12 pieces
# 10-30%, and a piece under ~2^24 multiply-adds gained less from a second thread than it
# paid (measured).
# So two pieces from 2^24 multiply-adds each, and more (for more cores) only from 2^28 each
PRODUCT_PIECE = 1 << 24
WIDE_PIECE = 1 << 28
PRODUCT_PIECES = (8, 4, 2, 1)
SMALL = 1 << 17   # elements of per-element work below which one thread does it
_inside = threading.local()   # .active: this thread is running pieces already


def get_num_threads():
    """The number of threads minigan's CPU work runs on."""
    return _threads


def set_num_threads(n):
    """Run minigan's CPU work on ``n`` threads, as torch.set_num_threads (the results are
    the same bits for every ``n``)."""
    global _threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _threads = n


@functools.lru_cache(maxsize=None)
def _pool(workers):
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minigan")


# ---- NumPy's OpenBLAS ----

# the names of OpenBLAS's functions: plain, 64-bit integers, and NumPy's scipy_openblas
_PREFIXES = (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", ""))


@functools.lru_cache(maxsize=None)
def blas():
    """NumPy's OpenBLAS as {"path", "get_num_threads", "set_num_threads", "corename"}, or
    None where NumPy's BLAS is another, or none this process has loaded can be reached."""
    if not _numpy_uses_openblas():
        return None   # another library's OpenBLAS is not the one NumPy's products run on
    for path in _openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in _PREFIXES:
            get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            if get is None:
                continue
            corename = getattr(lib, f"{prefix}get_corename{suffix}", None)
            if corename is not None:
                corename.restype = ctypes.c_char_p
            return {"path": path, "get_num_threads": get,
                    "set_num_threads": getattr(lib, f"{prefix}set_num_threads{suffix}"),
                    "corename": corename().decode() if corename else "unknown"}
    return None


def _numpy_uses_openblas():
    """Whether NumPy was built with an OpenBLAS, as its build configuration says (True
    where the configuration cannot be read)."""
    try:
        name = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:   # NOTE: an older NumPy, or a configuration of another form
        return True
    return "openblas" in str(name).lower()


def _openblas_paths():
    """Paths of the OpenBLAS libraries this process has loaded, NumPy's own first."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        paths = _paths_in_maps()
    else:
        found = ThreadpoolController().select(internal_api="openblas").lib_controllers
        paths = [lib.filepath for lib in found]
    # NumPy's own first (its wheels keep it in numpy.libs or numpy/.libs), then by name
    numpy_dir = os.path.dirname(os.path.abspath(np.__file__))
    return sorted(set(paths), key=lambda p: (not p.startswith(numpy_dir), p))


def _paths_in_maps(maps="/proc/self/maps"):
    """The OpenBLAS paths in a /proc/<pid>/maps file ([] where there is none, not Linux).

    A line is "address perms offset dev inode path": the path is everything after the
    fifth field, spaces and all; a file deleted since it was loaded ends " (deleted)"
    and cannot be opened again, so it is left out.
    """
    try:
        with open(maps) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    paths = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and "openblas" in os.path.basename(fields[5]).lower() \
                and not fields[5].endswith(" (deleted)"):
            paths.append(fields[5])
    return paths


class _OneBlasThread:
    """A context: OpenBLAS at one thread inside it, and at the count it found outside.

    Contexts may overlap (minigan called from several of the user's threads): the first in
    saves the count and sets one thread, the last out puts the count back.
    """
    _lock = threading.Lock()
    _open = 0
    _before = 1

    def __enter__(self):
        with self._lock:
            lib = blas()
            if type(self)._open == 0 and lib is not None:
                type(self)._before = lib["get_num_threads"]()
                if type(self)._before != 1:
                    lib["set_num_threads"](1)
            type(self)._open += 1

    def __exit__(self, *exc):
        with self._lock:
            type(self)._open -= 1
            if type(self)._open == 0 and type(self)._before != 1:
                blas()["set_num_threads"](type(self)._before)


# ---- running pieces ----

def run(work, bounds):
    """Run ``work(a, b)`` for each piece [a, b) between consecutive ``bounds``, on the pool,
    with OpenBLAS at one thread; each thread takes a run of consecutive pieces.

    NumPy's copies, ufuncs and BLAS calls release the GIL, so the pieces run at once. Work
    started from inside a piece runs its pieces on that thread.
    """
    pieces = list(zip(bounds[:-1], bounds[1:]))
    if getattr(_inside, "active", False):
        for a, b in pieces:
            work(a, b)
        return
    workers = min(_threads, len(pieces))

    def take(first, last):
        _inside.active = True
        try:
            for a, b in pieces[first:last]:
                work(a, b)
        finally:
            _inside.active = False
    shares = [len(pieces) * i // workers for i in range(workers + 1)] if workers else [0, 0]
    with _OneBlasThread():
        jobs = [_pool(_threads).submit(take, first, last)
                for first, last in zip(shares[1:-1], shares[2:])]
        try:
            take(shares[0], shares[1])   # this thread takes the first share
        finally:
            wait(jobs)   # no piece still runs once this returns, or raises
        for job in jobs:
            job.result()   # raises a piece's error


def spread(work, n, size):
    """Run ``work(a, b)`` over one range [a, b) a thread, covering [0, n): for copies and
    per-element arithmetic only, where no bit depends on the ranges. ``size`` is the
    work's element count: below ``SMALL`` it runs on this thread."""
    workers = 1 if size < SMALL else min(_threads, n)
    run(work, [n * i // workers for i in range(workers + 1)] if n else [0, 0])


def split(work, n, item_bytes):
    """Run ``work(a, b)`` over pieces [a, b) that cover [0, n), each about ``PIECE`` bytes
    (``item_bytes`` for each index): work that makes several passes over a piece finds it
    in cache after the first, so memory is read about once. The pieces depend on ``n``
    and ``item_bytes`` only."""
    step = max(1, PIECE // max(1, int(item_bytes)))
    run(work, list(range(0, n, step)) + [n])


def map_pieces(fn, dtype, *arrays):
    """A new array ``out`` of ``arrays[0]``'s shape and memory order, filled by
    ``fn(out_piece, *pieces)`` over matching pieces of the arrays, flattened in that order:
    an elementwise op of several passes, run in cache-sized pieces across the cores."""
    first = arrays[0]
    # the axes from the largest stride to the smallest: the order of first's memory, which
    # out takes too (a C-ordered array: 0, 1, 2, ...; the conv's batch-last views: theirs)
    order = sorted(range(first.ndim), key=lambda a: -abs(first.strides[a]))
    out = memory.empty([first.shape[a] for a in order], dtype).transpose(np.argsort(order))
    # views of out, and of arrays in first's order (copies where an array is in another)
    flat = [a.transpose(order).reshape(-1) for a in (out, *arrays)]
    split(lambda a, b: fn(*(f[a:b] for f in flat)), out.size, out.itemsize)
    return out


def product_pieces(m, k, n):
    """How many pieces a product (M, K) @ (K, N) is cut into: the most in PRODUCT_PIECES
    whose pieces have PRODUCT_PIECE multiply-adds each (WIDE_PIECE beyond two pieces), and
    none under 16 rows (or columns) wide."""
    size = m * k * n

    def fits(p):
        return size >= p * (PRODUCT_PIECE if p <= 2 else WIDE_PIECE) and 16 * p <= max(m, n)
    return next(p for p in PRODUCT_PIECES if p == 1 or fits(p))


def matmul(a, b):
    """a @ b; for two NumPy matrices a (M, K), b (K, N), the rows (or, if N > M, the
    columns) of the result cut into ``product_pieces`` run across the pool.

    NOTE: each piece is one single-threaded BLAS call, out= its own part of the result;
    BLAS takes a transposed a or b by flag, so views cost no copy. A stack of matrices is
    one call, on this thread.
    """
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == b.ndim == 2):
        with _OneBlasThread():
            return a @ b
    (m, k), n = a.shape, b.shape[1]
    pieces = product_pieces(m, k, n)
    out = memory.empty((m, n), np.result_type(a, b))
    if pieces == 1 or blas() is None:   # one call (a BLAS we cannot reach threads it itself)
        with _OneBlasThread():
            return np.matmul(a, b, out=out)
    if m >= n:
        run(lambda i, j: np.matmul(a[i:j], b, out=out[i:j]),
            [m * p // pieces for p in range(pieces + 1)])
    else:   # a wide product: split the columns (BLAS writes out[:, i:j] by its row stride)
        run(lambda i, j: np.matmul(a, b[:, i:j], out=out[:, i:j]),
            [n * p // pieces for p in range(pieces + 1)])
    return out
