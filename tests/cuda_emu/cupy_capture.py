"""The CUDA runtime's errors, and what a stream capture records, for the CuPy double.

The bottom of cupy_streams: ``CUDARuntimeError`` and ``Unmodelled``, which every part of the
double raises, and ``_Capture``, one capture under way: its graph's nodes, the streams that
joined it, and the fork and join bookkeeping that ``end_capture`` checks (test_graph
stream_fork_join, failure3). The streams that begin, join and end a capture, and the graph it
gives, are cupy_streams'; this module imports none of the double.
"""


class CUDARuntimeError(RuntimeError):
    """cupy_backends/cuda/api/runtime.pyx:128-138: '<error name>: <CUDA's text>' and .status."""
    CODES = {"cudaErrorIllegalState": 401, "cudaErrorNotReady": 600,
             "cudaErrorStreamCaptureUnsupported": 900, "cudaErrorStreamCaptureInvalidated": 901,
             "cudaErrorStreamCaptureUnmatched": 903, "cudaErrorStreamCaptureUnjoined": 904,
             "cudaErrorStreamCaptureImplicit": 906, "cudaErrorCapturedEvent": 907}

    def __init__(self, name, text):
        super().__init__(f"{name}: {text}")
        self.status = self.CODES[name]


class Unmodelled(Exception):
    """A case the double does not model: neither CuPy's source nor CUDA's documentation tell
    it what a GPU would do. A test that meets it fails, rather than pass on a guess."""


_captures = []   # the captures under way


def _blocking_captures():
    """The captures under way that a blocking stream takes part in."""
    return [c for c in _captures if any(not s.non_blocking for s in c.members)]


class _Capture:
    """One capture: the graph's nodes in the order they were submitted, the streams that joined
    it, and what tests/cuda_emu/our_rules.py checks of its memory."""

    def __init__(self, origin):
        self.origin, self.ops, self.keep, self.made = origin, [], [], []
        self.work = {}       # stream -> how many nodes it added (a fork's wait counts)
        self.joined = {}     # forked stream -> how much of its work the origin waited for
        self.after = {}      # stream -> {stream: work} that its next node comes after
        self.invalid, self.active = False, True
        self.members = []
        _captures.append(self)
        self.join(origin)

    def join(self, stream):
        stream._capture = self
        self.members.append(stream)
        self.work[stream] = 0 if stream is self.origin else 1
        self.after[stream] = {}

    def add(self, stream, work):
        self.ops.append(work)
        self.work[stream] += 1

    def depend(self, stream, after):
        """``stream`` waits for work described by ``after`` ({stream: work count})."""
        for other, count in after.items():
            self.after[stream][other] = max(self.after[stream].get(other, 0), count)
            if stream is self.origin:
                self.joined[other] = max(self.joined.get(other, 0), count)

    def snapshot(self, stream):
        """What an event recorded on ``stream`` now stands for: its work and what it waited for."""
        return {**self.after[stream], stream: self.work[stream]}

    def unjoined(self):
        return any(self.joined.get(s, 0) < self.work[s] for s in self.members
                   if s is not self.origin)

    def end(self):
        self.active = False
        _captures.remove(self)
        for stream in self.members:
            stream._capture = None
