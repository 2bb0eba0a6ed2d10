"""Ctrl-C and SIGTERM between two steps, so that a run stops with a consistent state."""
import signal
import threading


class StopSignals:
    """While active, SIGINT (Ctrl-C) and SIGTERM set ``requested`` instead of raising, so the
    loop can stop between two steps with a consistent state; a second Ctrl-C stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.requested = None
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __exit__(self, *exc):
        for s, handler in self._old.items():
            signal.signal(s, handler)
