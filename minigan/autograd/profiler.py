"""Where a step spends its time, per op type: ``with minigan.autograd.profile() as prof``.

    with minigan.autograd.profile() as prof:
        train_step()
    print(prof.table())

Every op's forward (``Function.__call__``), every backward the engine runs and every
optimizer step is timed while a profile is open. A backward counts everything it runs,
the ops it calls included, and an op run inside another timed call (inside a backward,
inside an optimizer step) counts as part of that call: nothing is counted twice. What
no row holds (modules' Python, the engine's loop, the tensors' wrappers) is the row
"outside ops", so the shares add up to the whole block.

Inside the ops, array work of a kind is timed as well: a function decorated with
``@profiler.timed_as("mover")`` (the conv's pixel movers) or ``("product")`` (the
GEMMs: each array namespace's ``product``, ``minigan.arrays.product`` and
``minigan.cuda.arrays.product``, so a product is named the same on both devices) is timed
under its own name and kind, and under the phase of the op call it runs in.
``work_averages()`` gives one WorkStats per (function, kind, phase), which
``benchmarks/profile_step.py`` turns into GEMM, movers and the rest of each op's time.
Such work runs no ops, and a tagged call inside another is part of that one; with no
profile open, a tagged call costs a wrapper's call and one test.

On a GPU the time of each call is read from two CUDA events recorded around it on the
stream, and the block's total from two more: a launch returns at once, before its work
is done, so the host's clock would charge the work to whichever call waits for it.
"""
import functools
import threading
import time
from collections import namedtuple

from .. import backend

OpStats = namedtuple("OpStats", "name calls forward_ms backward_ms other_ms total_ms")
# phase: the phase of the op call the work ran in ("forward", "backward", "other"), or None
WorkStats = namedtuple("WorkStats", "name kind phase calls total_ms")

active = None   # the open profile, if any


def call(name, phase, fn, *args):
    """``fn(*args)``, timed as ``phase`` ("forward", "backward" or "other") of ``name``
    while a profile is open and no other timed call encloses this one."""
    if active is None or active.depth:
        return fn(*args)
    return active.timed(name, phase, fn, args)


def timed_as(kind):
    """A decorator: calls of the function are ``kind`` work ("product", "mover"), timed
    while a profile is open, on the thread that opened it, unless a tagged call encloses
    them."""
    def decorate(fn):
        @functools.wraps(fn)
        def tagged(*args, **kwargs):
            if active is None or active.in_work:
                return fn(*args, **kwargs)
            return active.timed_work(fn.__name__, kind, fn, args, kwargs)
        return tagged
    return decorate


def optimizer_step(step):
    """An optimizer's ``step``, timed as "<Optimizer>.step" while a profile is open."""
    def timed_step(self, *args):
        return call(f"{type(self).__name__}.step", "other", step, self, *args)
    timed_step.__doc__, timed_step.__name__ = step.__doc__, step.__name__
    return timed_step


class _HostClock:
    """Marks are host times; CPU work is done when the call returns."""
    name = "the host clock (time.perf_counter)"

    def mark(self):
        return time.perf_counter()

    def finish(self, last):
        pass

    def elapsed_ms(self, start, end):
        return (end - start) * 1e3


class _CudaClock:
    """Marks are CUDA events on the current stream, read once the last one has happened."""
    name = "CUDA events"

    def __init__(self):
        self.cuda = backend.cupy.cuda

    def mark(self):
        event = self.cuda.Event()
        event.record()
        return event

    def finish(self, last):
        last.synchronize()

    def elapsed_ms(self, start, end):
        return self.cuda.get_elapsed_time(start, end)


class profile:
    """A context manager that times every op, as ``torch.autograd.profiler.profile``.

    ``use_cuda``: time with CUDA events (True), the host clock (False), or CUDA events
    whenever a GPU is there (None, the default). After the block: ``key_averages()``
    gives one OpStats per op type, ``table()`` prints them, ``total_ms`` is the block.
    """

    def __init__(self, use_cuda=None):
        if use_cuda is None:
            use_cuda = backend.gpu_available()
        if use_cuda:
            backend.require_cuda()
        self.clock = _CudaClock() if use_cuda else _HostClock()
        self.depth = 0
        self.phase = None      # the phase of the timed call now running, if any
        self.in_work = False   # a tagged call is running
        self.calls = []        # (name, phase, start mark, end mark), in order
        self.work = []         # (name, kind, phase, start mark, end mark), in order
        self.total_ms = None

    def __enter__(self):
        global active
        if active is not None:
            raise RuntimeError("profile: a profile is open already; they do not nest")
        active = self
        self.thread = threading.get_ident()
        self.start = self.clock.mark()
        return self

    def __exit__(self, *exc):
        global active
        active = None
        end = self.clock.mark()
        self.clock.finish(end)
        self.total_ms = self.clock.elapsed_ms(self.start, end)
        self.times = [(name, phase, self.clock.elapsed_ms(a, b))
                      for name, phase, a, b in self.calls]
        self.work_times = [(name, kind, phase, self.clock.elapsed_ms(a, b))
                           for name, kind, phase, a, b in self.work]
        self.calls, self.work = [], []

    def timed(self, name, phase, fn, args):
        start = self.clock.mark()
        self.depth += 1
        self.phase = phase
        try:
            return fn(*args)
        finally:
            self.depth -= 1
            self.phase = None
            self.calls.append((name, phase, start, self.clock.mark()))

    def timed_work(self, name, kind, fn, args, kwargs):
        if threading.get_ident() != self.thread:   # a pool thread's: part of what runs it
            return fn(*args, **kwargs)
        start = self.clock.mark()
        self.in_work = True
        try:
            return fn(*args, **kwargs)
        finally:
            self.in_work = False
            self.work.append((name, kind, self.phase, start, self.clock.mark()))

    def key_averages(self):
        """One OpStats per op type (calls: forward calls, or steps), largest total first."""
        if self.total_ms is None:
            raise RuntimeError("profile: the results are ready when the with block ends")
        rows = {}
        for name, phase, ms in self.times:
            row = rows.setdefault(name, {"calls": 0, "forward": 0.0, "backward": 0.0,
                                         "other": 0.0})
            row[phase] += ms
            row["calls"] += phase != "backward"
        stats = [OpStats(name, r["calls"], r["forward"], r["backward"], r["other"],
                         r["forward"] + r["backward"] + r["other"]) for name, r in rows.items()]
        return sorted(stats, key=lambda s: -s.total_ms)

    def work_averages(self):
        """One WorkStats per (function, kind, phase) of the tagged work, largest total first."""
        if self.total_ms is None:
            raise RuntimeError("profile: the results are ready when the with block ends")
        rows = {}
        for name, kind, phase, ms in self.work_times:
            row = rows.setdefault((name, kind, phase), [0, 0.0])
            row[0] += 1
            row[1] += ms
        stats = [WorkStats(*key, calls, ms) for key, (calls, ms) in rows.items()]
        return sorted(stats, key=lambda s: -s.total_ms)

    def table(self, row_limit=None):
        """The per-op table: calls, forward, backward and total ms, share of the block."""
        stats = self.key_averages()
        shown = stats if row_limit is None else stats[:row_limit]
        outside = self.total_ms - sum(s.total_ms for s in stats)
        lines = [f"{'op':<22} {'calls':>6} {'forward ms':>11} {'backward ms':>12} "
                 f"{'total ms':>9} {'share':>6}"]

        def ms(value):
            return f"{value:.2f}" if value else "-"

        for s in shown:
            lines.append(f"{s.name:<22} {s.calls:6d} {ms(s.forward_ms):>11} "
                         f"{ms(s.backward_ms):>12} {s.total_ms:9.2f} "
                         f"{s.total_ms / self.total_ms:6.1%}")
        if len(shown) < len(stats):
            rest = sum(s.total_ms for s in stats[len(shown):])
            lines.append(f"{f'({len(stats) - len(shown)} more ops)':<22} {'':>6} {'':>11} "
                         f"{'':>12} {rest:9.2f} {rest / self.total_ms:6.1%}")
        lines.append(f"{'outside ops':<22} {'':>6} {'':>11} {'':>12} {outside:9.2f} "
                     f"{outside / self.total_ms:6.1%}")
        lines.append(f"{'total':<22} {'':>6} {'':>11} {'':>12} {self.total_ms:9.2f} "
                     f"{1:6.0%}")
        lines.append(f"(timed by {self.clock.name}; a backward counts the ops it runs)")
        return "\n".join(lines)
