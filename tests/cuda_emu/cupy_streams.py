"""Streams, events, CUDA graphs and the memory pool, as CuPy 14.2 runs them on a GPU.

This half of the CuPy double decides *when* device work runs. All work reaches it as a
closure over host memory, through ``submit``: the emulated device is synchronous, so the
work runs at once, unless the stream it goes to is capturing. Then it becomes a node of the
capture's graph and runs at each ``Graph.launch``, on the addresses it was given: a graph
holds pointers, never arrays.

Each rule cites CuPy at tag v14.2.0 (github.com/cupy/cupy) by file and line, or a CuPy test
(tests/cupy_tests/cuda_tests/test_graph.py, "test_graph"; test_stream.py, "test_stream"),
which tests/test_cupy_rules_streams.py ports. Where CuPy hands a call straight to CUDA, the rule is
CUDA's: the CUDA Programming Guide, "CUDA Graphs", sections "Prohibited and Unhandled
Operations" and "Invalidation" ("the guide"). A case that neither defines raises
``Unmodelled``, so that no test passes on a guess.

The rules, in short:
- Stream capture: ``begin_capture`` refuses the legacy default stream (stream.pyx:393-394),
  in relaxed mode by default (stream.pyx:395-403). Kernels, generic CuPy kernels and device
  copies are captured (test_graph's _helper1-3). Forbidden, with the capture invalidated so
  that ``end_capture`` raises cudaErrorStreamCaptureInvalidated: synchronizing or querying
  the capturing stream (test_graph failure1, failure4, failure6), a captured event
  (the guide), or the device (the guide). Refused by CuPy before any CUDA call, the capture
  staying valid: copies to or from the host (memory.pyx:611-621, 709-719) and every cuBLAS,
  cuRAND, cuSOLVER and cuSPARSE call (cublas.pyx:642-655, curand.pyx:140-149; test_graph
  failure_cublas, failure_curand).
- Fork and join through events (test_graph stream_fork_join), unjoined work
  (failure3), ending a capture on the wrong stream (failure2), the legacy stream beside a
  blocking capture (null_stream_cannot_capture; the guide).
- Memory (``Pool``): one arena per stream; a freed block goes back at once to the arena of
  the stream that made it, for the next allocation made while that stream is current
  (memory.pyx:877-889, 1352-1398). Nothing keeps alive what a graph uses (graph.pxd:5-8).

The runtime's errors and the record of a capture under way (``_Capture``) are in cupy_capture,
below this module.
"""
import itertools
import time
import weakref

import numpy as np

from .cupy_capture import CUDARuntimeError, Unmodelled, _Capture, _blocking_captures, _captures
from .our_rules import record


# ---- the current stream: a stack per thread (stream.pyx:14-62; one device, one thread) ----
_stack = []        # what ``with stream:`` pushed, above the default stream
_current = None    # set by a ``with`` and by ``use()`` (stream.pyx:56-62, 254-263)


def current():
    """``cupy.cuda.get_current_stream()``: the legacy default stream unless one was chosen."""
    return _current


class Stream:
    """``cupy.cuda.Stream``: a stream handle, compared and hashed by its pointer
    (stream.pyx:210-216, 235-236). ``Stream.null`` is the legacy default stream, pointer 0."""
    null = ptds = None
    _pointers = itertools.count(0x7000, 0x10)

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        # stream.pyx:494-514: null is pointer 0, per-thread default 2, else a new stream
        self.ptr = 0 if null else 2 if ptds else next(Stream._pointers)
        self.non_blocking = bool(non_blocking) and not (null or ptds)
        self._capture = None   # the capture this stream belongs to, while one is under way

    def __eq__(self, other):
        return isinstance(other, Stream) and self.ptr == other.ptr

    def __hash__(self):
        return self.ptr

    def __repr__(self):
        return f"<Stream {self.ptr} (device -1)>"

    def __enter__(self):   # stream.pyx:218-225, 42-47
        global _current
        _stack.append(self)
        _current = self
        return self

    def __exit__(self, *exc):   # stream.pyx:227-229, 49-54: back to the entry below
        global _current
        _stack.pop()
        _current = _stack[-1] if _stack else _default

    def use(self):   # stream.pyx:254-263: current, without a push (test_stream test_use)
        global _current
        _current = self
        return self

    @property
    def is_non_blocking(self):
        return self.non_blocking

    def _legacy_beside_a_blocking_capture(self, what):
        """The guide: while a blocking stream captures, any use of the legacy stream is
        invalid; which error a synchronize, a query or a wait gives is not documented."""
        if self.ptr in (0, 1) and _blocking_captures():
            raise Unmodelled(f"{what} of the legacy stream while a blocking stream captures")

    @property
    def done(self):
        """stream.pyx:265-268 and runtime.pyx:1008-1009: the raw status of cudaStreamQuery,
        never raised. Querying a capturing stream invalidates its capture (test_graph
        test_stream_capture_failure4); here work is done once submitted."""
        self._legacy_beside_a_blocking_capture("a query")
        if self._capture is not None:
            self._capture.invalid = True
            return False
        return True

    def synchronize(self):
        """stream.pyx:270-272: cudaStreamSynchronize, no guard. On a capturing stream CUDA
        refuses it and invalidates the capture (test_graph failure1, failure6)."""
        record("sync", "stream")
        self._legacy_beside_a_blocking_capture("a synchronize")
        if self._capture is not None:
            self._capture.invalid = True
            raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported",
                                   "operation not permitted when stream is capturing")
        _host_waited(lambda event: event.stream == self)

    def record(self, event=None):   # stream.pyx:321-337
        event = Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event):
        """stream.pyx:339-348: cudaStreamWaitEvent. A stream that waits for an event of a
        capture joins it (a fork), and the capture's origin that waits for an event of a
        forked stream joins that work back (test_graph test_stream_fork_join)."""
        self._legacy_beside_a_blocking_capture("a wait")
        capture = event._capture if event._capture is not None and event._capture.active \
            else None
        if capture is None:
            if self._capture is not None:   # the guide: invalid without cudaEventWaitExternal
                raise Unmodelled("a capturing stream waits for an event recorded outside "
                                 "the capture")
            return
        if self._capture is None:
            capture.join(self)
        elif self._capture is not capture:   # the guide: merging two captures is invalid
            raise Unmodelled("a stream waits for an event of another capture")
        capture.depend(self, event._after)

    def launch_host_func(self, callback, arg):
        """stream.pyx:295-319: captured, the callback and its argument stay alive with the
        graph and run at each launch (test_graph test_capture_launch_host_func). Only the
        stream that began the capture has the list that keeps them (stream.pyx:208, 405): on a
        stream that joined it, CuPy adds the node, then fails."""
        submit(lambda: callback(arg), self)
        if self.is_capturing():
            if self._capture.origin is not self:
                raise AttributeError("'NoneType' object has no attribute 'append'")
            self._capture.keep.append((callback, arg))

    def begin_capture(self, mode=None):
        """stream.pyx:350-405: the legacy default stream is refused by CuPy itself; the mode
        is relaxed unless given (so that CuPy's pool may call cudaMalloc)."""
        if self.ptr in (0, 1):
            raise RuntimeError("cannot capture on the default (legacy) stream")
        if self.ptr == 2 or mode is not None:
            raise Unmodelled("capture on the per-thread default stream, or in a mode other "
                             "than relaxed")
        if self._capture is not None:   # cudaStreamBeginCapture: "not already in capture mode"
            raise Unmodelled("begin_capture on a stream that is already capturing")
        _Capture(self)

    def end_capture(self):
        """stream.pyx:407-425: cudaStreamEndCapture; test_graph failure1-3 give its errors.
        Whatever it raises, every stream of the capture leaves it."""
        capture = self._capture
        if capture is None:   # failure2: another stream's capture stays valid
            raise CUDARuntimeError("cudaErrorIllegalState", "operation not permitted in the "
                                   "present state: the stream is not capturing")
        if capture.origin != self:
            capture.invalid = True
            raise CUDARuntimeError("cudaErrorStreamCaptureUnmatched",
                                   "the capture was not initiated in this stream")
        capture.end()
        if capture.invalid:
            raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated",
                                   "operation failed due to a previous error during capture")
        if capture.unjoined():
            raise CUDARuntimeError("cudaErrorStreamCaptureUnjoined",
                                   "capturing stream has unjoined work")
        return Graph._from_capture(capture)

    def is_capturing(self):
        """stream.pyx:427-441 and runtime.pyx:1036-1044: cudaStreamIsCapturing, checked."""
        if self.ptr in (0, 1):
            if _blocking_captures():
                # cudaStreamIsCapturing: the blocking capture is not invalidated
                # (test_graph test_null_stream_cannot_capture)
                raise CUDARuntimeError("cudaErrorStreamCaptureImplicit", "operation would make "
                                       "the legacy stream depend on a capturing blocking stream")
            return False
        if self._capture is not None and self._capture.invalid:
            raise RuntimeError("the stream was capturing, but an error has invalidated the "
                               "capture sequence")
        return self._capture is not None


Stream.null = _default = _current = Stream(null=True)
Stream.ptds = Stream(ptds=True)


def submit(work, stream=None):
    """Run ``work`` now on ``stream`` (the current one by default), or, while that stream
    captures, add it to the capture's graph."""
    stream = current() if stream is None else stream
    if stream.ptr in (0, 1):
        blocking = _blocking_captures()
        if blocking:   # the guide: "any attempted use of the legacy stream is invalid"
            for capture in blocking:
                capture.invalid = True
            raise CUDARuntimeError("cudaErrorStreamCaptureImplicit", "operation would make "
                                   "the legacy stream depend on a capturing blocking stream")
    capture = stream._capture
    if capture is None:
        work()
    elif capture.invalid:
        raise Unmodelled("work submitted to a stream whose capture was invalidated")
    else:
        capture.add(stream, work)


def guard_transfer(direction, stream=None):
    """memory.pyx:611-621 and 709-719: CuPy refuses a copy to or from the host while the
    stream of the copy (the current one by default) captures, before any CUDA call (the
    capture stays valid)."""
    if (current() if stream is None else stream).is_capturing():
        raise RuntimeError(f"the current stream is capturing, so {direction} transfers are "
                           f"disallowed")


def guard_library(name):
    """cublas.pyx:642-655 (and curand.pyx:140-149, cusolver.pyx:1495-1505, cusparse.pyx:
    1331-1343): every call of a CUDA library sets its stream first, and that refuses a
    capturing stream before the library is called (test_graph failure_cublas)."""
    if current().is_capturing():
        raise NotImplementedError(f"calling {name} API during stream capture is currently "
                                  f"unsupported")


def device_synchronize():
    """device.pyx:199-207 and runtime.pyx:421-424: cudaDeviceSynchronize, no guard. The guide:
    synchronizing a device while any of its streams captures is invalid, and invalidates."""
    record("sync", "device")
    if _captures:
        for capture in list(_captures):
            capture.invalid = True
        raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported",
                               "operation not permitted when stream is capturing")
    _host_waited(lambda event: True)


class Graph:
    """``cupy.cuda.Graph`` (graph.pyx): made only by a capture; it holds the graph, nothing
    of the arrays its nodes use (graph.pxd:5-8)."""

    def __init__(self, *args, **kwargs):   # graph.pyx:31-34
        raise NotImplementedError("currently this class cannot be initiated by the user and "
                                  "must be created via stream capture")

    @classmethod
    def _from_capture(cls, capture):
        graph = cls.__new__(cls)
        graph.ops, graph.host_funcargs, graph.made = capture.ops, capture.keep, capture.made
        return graph

    def launch(self, stream=None):
        """graph.pyx:44-63: on the current stream unless one is given."""
        stream = current() if stream is None else stream
        if stream.is_capturing():
            raise Unmodelled("a graph launched into a capture (a child graph node)")
        for op in self.ops:
            submit(op, stream)

    def upload(self, stream=None):   # graph.pyx:65-84: nothing to do on a synchronous device
        pass


# ---- events: timed by the host clock, readable once the host has waited ----
class Event:
    """``cupy.cuda.Event`` (stream.pyx:101-165).

    NOTE: a GPU may still be running when the host reads an event, so the double reads an
    event's time only once the host waited for it (its own synchronize, its stream's, the
    device's, a blocking copy to the host) or saw it done: earlier, it fails as
    cudaEventElapsedTime does when the work is not finished, with cudaErrorNotReady.
    """
    _order = itertools.count(1)

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.time = self.order = self.stream = self._capture = None
        self.waited = False

    def record(self, stream=None):
        """stream.pyx:142-156: on the current stream unless one is given. On a capturing
        stream the event becomes a node of the capture (test_graph test_stream_fork_join)."""
        stream = current() if stream is None else stream
        self.stream, self.waited = stream, False
        if stream.is_capturing():
            self._capture, self._after = stream._capture, stream._capture.snapshot(stream)
        else:
            self._capture, self.time, self.order = None, time.perf_counter(), next(Event._order)
            _recorded.add(self)

    def _captured(self, what):
        """The guide: a query or synchronize of an event last recorded in a capturing stream
        is invalid, and invalidates the capture."""
        if self._capture is None:
            return False
        if not self._capture.active:
            raise Unmodelled(f"{what} of an event recorded in a capture that has ended")
        self._capture.invalid = True
        return True

    @property
    def done(self):
        """stream.pyx:137-140 and runtime.pyx:1077-1078: the raw status, never raised. Work is
        done once submitted here, and an event seen done can be read, as on a GPU."""
        if self._captured("a query") or self.order is None:
            return False
        _host_waited(lambda e: e is self)
        return True

    def synchronize(self):
        """stream.pyx:158-165: cudaEventSynchronize, checked. The error code for a captured
        event is the guide's cudaErrorCapturedEvent (not pinned by a CuPy test)."""
        record("sync", "event")
        if self._captured("a synchronize"):
            raise CUDARuntimeError("cudaErrorCapturedEvent", "operation not permitted on an "
                                   "event last recorded in a capturing stream")
        if self.order is not None:   # and everything recorded on its stream before it
            _host_waited(lambda e: e.stream == self.stream and e.order <= self.order)


_recorded = weakref.WeakSet()   # events recorded outside a capture, not yet waited for


def host_waited(stream):
    """The host waited for the work of ``stream``: a blocking copy to the host does
    (core.pyx:2204-2205)."""
    _host_waited(lambda event: event.stream == stream)


def _host_waited(which):
    for event in list(_recorded):
        if which(event):
            event.waited = True
            _recorded.discard(event)


def get_elapsed_time(start, end):
    """stream.pyx:168-179: cudaEventElapsedTime, in milliseconds. Before the host waited:
    cudaErrorNotReady (CUDA's documentation of cudaEventElapsedTime)."""
    for event in (start, end):
        if event._capture is not None:
            raise Unmodelled("the elapsed time of an event recorded in a capture")
        if not event.waited:
            raise CUDARuntimeError("cudaErrorNotReady", "device not ready")
    return (end.time - start.time) * 1e3


# ---- the memory pool ----
class Pool:
    """CuPy's SingleDeviceMemoryPool (memory.pyx): a size rounded up to 512 bytes
    (memory.pyx:1042-1046), taken from the arena of the current stream (877-889, 1361-1362)
    or newly allocated; freed, a block goes back at once to the arena it came from (993-1038,
    1388-1398), whatever a graph still does with it.

    NOTE: CuPy takes the best fit and splits what is left of a larger chunk (memory.pyx:
    1162-1182); the double hands out the smallest free block that fits, whole, if it is less
    than twice the size (so that small arrays do not take large blocks). Freed memory is
    reused all the same, and no block is ever given back: a graph that replays over a block
    handed out again computes wrong numbers, as on a GPU, instead of crashing the process.
    """
    UNIT = 512

    def __init__(self):
        self.arenas = {}   # stream pointer -> the free blocks made while it was current

    def malloc(self, nbytes, make):
        """``make(buffer)``, an array on a block of at least ``nbytes``: the block goes back to
        its arena when that array and every view of it have gone."""
        if nbytes == 0:    # memory.pyx:1358-1359: no block for nothing
            return make(bytearray(0))
        size = -(-nbytes // self.UNIT) * self.UNIT
        arena = self.arenas.setdefault(current().ptr, [])
        fits = [b for b in arena if size <= len(b) < 2 * size]
        block = min(fits, key=len) if fits else bytearray(size)
        if fits:
            arena.remove(block)
        array = make(memoryview(block)[:nbytes])
        weakref.finalize(array, arena.append, block)
        capture = current()._capture
        if capture is not None:
            capture.made.append(weakref.ref(array))
        return array


pool = Pool()


def reset():
    """A new device for each test: the default stream current, no capture, an empty pool."""
    global _current, pool
    for capture in list(_captures):
        capture.end()
    _stack.clear()
    _current, pool = _default, Pool()
