"""minigan's own rules for its GPU path, checked on the emulated GPU. None of them is CuPy's.

CuPy allows what these rules count; a program that breaks them still runs on a GPU, only
slower, or, for a graph's memory, wrong on some later day. So they are not refusals of the
double (cupy_double, cupy_streams), which follows CuPy rule for rule, but instruments that a
test reads:

- ``counting()``: what a block of code asked of the GPU, by kind. A training step must make
  no generic CuPy call (an elementwise op, a reduction, a copy or a fill: about 46 µs of host
  time each on an H200, against 8 µs for one of our kernels), no copy to or from the host and
  no host wait (tests/test_launch_count.py).
- ``freed(graph)``: how many arrays made during a capture have been freed. CuPy's pool hands
  their blocks out again at once (cupy_streams.Pool), and a graph writes them at every
  launch: minigan keeps them alive for as long as the graph lives
  (``minigan.cuda.memory.keep_alive``).
"""
import collections
import contextlib


class Calls:
    """What a block of code asked of the (emulated) GPU, each call by name, by kind:
    ``generic`` (CuPy's own elementwise, reduction, copy and fill kernels), ``gemm`` (cuBLAS
    products, through cupy.matmul), ``h2d`` and ``d2h`` (copies between host and device; a
    read such as ``.item()`` waits for the GPU too), ``sync`` (the host waits for a stream, an
    event or the device) and ``kernel`` (ours, through minigan.cuda.launch)."""
    KINDS = ("generic", "gemm", "h2d", "d2h", "sync", "kernel")

    def __init__(self):
        self.names = {kind: collections.Counter() for kind in self.KINDS}

    def add(self, kind, name):
        self.names[kind][name] += 1

    def __getitem__(self, kind):
        return sum(self.names[kind].values())

    def __repr__(self):
        return ", ".join(f"{kind} {self[kind]} {dict(self.names[kind])}" for kind in self.KINDS)


_recording = []   # the Calls of the open counting() blocks


def record(kind, name):
    """Called by the double for every call it serves."""
    for calls in _recording:
        calls.add(kind, name)


@contextlib.contextmanager
def counting():
    """``with counting() as calls:`` ... ``calls["generic"]``: what the block asked for."""
    calls = Calls()
    _recording.append(calls)
    try:
        yield calls
    finally:
        _recording.remove(calls)


def freed(graph):
    """How many of the arrays made while ``graph`` was captured are gone (their memory back in
    CuPy's pool, free to be handed out while the graph still writes it)."""
    return sum(ref() is None for ref in graph.made)
