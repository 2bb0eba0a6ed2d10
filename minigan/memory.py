"""Large host arrays that a training step reuses: the CPU's counterpart of CuPy's memory pool.

A step makes and drops the same large arrays every time: a conv's columns and canvas,
the products, the activations. From glibc's malloc they come out of its heap, whose top
it hands back to the kernel whenever tens of MB there are free, and takes again in the
next step; the kernel then zeroes every page on its first touch. A dcgan28 step at batch
64 took about 10,000 page faults and 50 ms of system time this way (two cores, measured).

So the ops take their large arrays from here. ``empty(shape, dtype)`` returns a view of a
buffer mapped from the kernel apart from malloc's heap (huge pages asked for); the buffer
is free again as soon as no array views it (its reference count says so), and a later
``empty`` of its size, or of down to 1/FIT of it, takes it. Before it maps a new buffer,
the pool unmaps free ones, those taken longest ago first, until it holds no more than
SLACK times the bytes its arrays have had in use at once. ``free_all()`` unmaps every
free buffer. Arrays under ``MIN_BYTES`` come from NumPy, as usual.
"""
import math
import mmap
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20
FIT = 2
# NOTE: a step's sizes are not all at their most at the same moment, so the pool needs some
# room over its busiest moment: in a dcgan28 step at 1.1 it unmapped and mapped again every
# step (15,000 page faults a step), at 1.15 and above never (measured)
SLACK = 1.25
_pools = {}   # bytes -> [[buffer, the call of empty() that last took it], ...]
_calls = 0
_busiest = 0   # the most bytes the pool's arrays have had in use at once
_lock = threading.Lock()
# NOTE: the reference count tells a free buffer only while the GIL keeps other threads from
# making views during the count: a free-threaded Python gets NumPy's own arrays
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
_PRIVATE = {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} if hasattr(mmap, "MAP_PRIVATE") else {}


def empty(shape, dtype):
    """An uninitialized C-ordered array, as np.empty; a pooled one if it is large."""
    global _calls
    dtype = np.dtype(dtype)
    shape = tuple(shape) if np.ndim(shape) else (shape,)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or dtype.hasobject or not _GIL:
        return np.empty(shape, dtype)
    with _lock:   # the view is made under the lock: no other thread takes the buffer
        _calls += 1
        # NOTE: a buffer's references: its pool entry and getrefcount's argument, then one
        # per array that views it
        fits = [e for size, pool in _pools.items() if nbytes <= size <= FIT * nbytes
                for e in pool if sys.getrefcount(e[0]) == 2]
        entry = min(fits, key=lambda e: e[0].nbytes) if fits else None
        if entry is None:
            _make_room(nbytes)
            entry = [_mapped(nbytes), 0]
            _pools.setdefault(nbytes, []).append(entry)
        entry[1] = _calls
        return entry[0][:nbytes].view(dtype).reshape(shape)


def zeros(shape, dtype):
    """np.zeros; a pooled array if it is large."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def _mapped(nbytes):
    """A uint8 array over ``nbytes`` of fresh private anonymous memory, huge pages asked
    for; if the kernel has no more, the free buffers are let go first."""
    try:
        # NOTE: private, not mmap's default shared: a forked child then gets its own copy,
        # and huge pages apply (to a shared mapping they do not)
        region = mmap.mmap(-1, nbytes, **_PRIVATE)
    except OSError:
        _free_unlocked()
        try:
            region = mmap.mmap(-1, nbytes, **_PRIVATE)
        except OSError as error:
            raise MemoryError(f"minigan.memory: cannot map {nbytes} bytes: {error}") from None
    if hasattr(mmap, "MADV_HUGEPAGE"):
        region.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(region, np.uint8)


def _make_room(nbytes):
    """Unmap free buffers, those taken longest ago first, until the pool with a new buffer
    of ``nbytes`` holds no more than its busiest moment (the lock is held)."""
    global _busiest
    free = sorted((e for pool in _pools.values() for e in pool if sys.getrefcount(e[0]) == 2),
                  key=lambda e: e[1])
    total = sum(e[0].nbytes for pool in _pools.values() for e in pool) + nbytes
    _busiest = max(_busiest, total - sum(e[0].nbytes for e in free))
    for e in free:
        if total <= SLACK * _busiest:
            break
        _drop(e)
        total -= e[0].nbytes


def _drop(entry):
    pool = _pools[entry[0].nbytes]
    pool[:] = [e for e in pool if e is not entry]
    if not pool:
        del _pools[entry[0].nbytes]


def free_all():
    """Unmap every free buffer, as CuPy's ``free_all_blocks``; buffers in use stay."""
    with _lock:
        _free_unlocked()


def _free_unlocked():
    for e in [e for pool in _pools.values() for e in pool if sys.getrefcount(e[0]) == 2]:
        _drop(e)


def pooled_bytes():
    """(bytes in use, bytes free) of the pool's buffers."""
    with _lock:
        entries = [e for pool in _pools.values() for e in pool]
        used = sum(e[0].nbytes for e in entries if sys.getrefcount(e[0]) > 2)
        return used, sum(e[0].nbytes for e in entries) - used
