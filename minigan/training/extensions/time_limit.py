"""A time limit: the run ends after the first step past it, as cleanly as at its end."""
import time

from ..log import format_seconds
from ..trainer import PRIORITY_WRITER


class TimeLimit:
    """Ends the run after the first step that finishes ``seconds`` after this process's
    loop began: the extensions then run as at the last step (a grid, a checkpoint), and a
    resume continues. It reads no values, so it costs a GPU step no wait."""

    priority = PRIORITY_WRITER + 100   # first: the others must know the step is the last
    reads = False
    trigger = 1

    def __init__(self, seconds):
        if not seconds >= 0:
            raise ValueError(f"TimeLimit: {seconds} seconds, must be at least 0")
        self.seconds = seconds

    def initialize(self, trainer):
        self.started = time.perf_counter()

    def __call__(self, trainer):
        if not trainer.is_last and time.perf_counter() - self.started >= self.seconds:
            trainer.request_stop(f"the time limit ({format_seconds(self.seconds)})")
