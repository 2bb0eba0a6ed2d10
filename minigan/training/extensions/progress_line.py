"""The progress line, and the summary line at the end of a run."""
import sys

from ..log import Progress, format_seconds
from ..trainer import PRIORITY_LAST, Interval, describe_outputs


class ProgressLine:
    """Epoch, step/total, it/s, ETA and the step's values (``log.Progress``): redrawn on a
    terminal, else a line at the first step, every ``every`` steps and the last. Its trigger
    (those steps) is when the values are read, so the line is current; between two, a GPU
    step runs ahead of the host. At the end: 'done: steps 1-3000 in 7:02 (141 ms/step),
    <values>; <the run's files>', or 'stopped at the time limit (9:00) after step ...'.
    Last of the extensions: the line follows what they wrote."""

    priority = PRIORITY_LAST

    def __init__(self, every=50, stream=None, tty=None):
        self.every, self.stream, self.tty = max(1, every), stream, tty
        self.trigger = Interval(self.every, first=True)
        self.progress = None

    def initialize(self, trainer):
        self.progress = Progress(trainer.stop, trainer.step, self.every,
                                 self.stream or sys.stdout, self.tty)

    def observe(self, trainer, row):
        self.progress.update(row.step, row.epoch, row.values)

    def __call__(self, trainer):
        if not trainer.is_last or trainer.signal is not None:
            return   # the line was drawn as the rows were read; a signal says its own
        self.progress.close()
        seconds, done = trainer.seconds, trainer.step - trainer.first + 1
        final = "  ".join(f"{k} {v:.3f}" for k, v in trainer.observation.items()
                          if v is not None)
        head = (f"stopped at {trainer.stop_reason} after step {trainer.step} of {trainer.stop}"
                if trainer.stop_reason else "done")
        left = describe_outputs(list(trainer.outputs.values()))
        print(f"{head}: steps {trainer.first}-{trainer.step} in {format_seconds(seconds)} "
              f"({1000 * seconds / done:.0f} ms/step), {final}" + (f"; {left}" if left else ""),
              file=self.progress.stream, flush=True)

    def finalize(self, trainer):
        if self.progress is not None:
            self.progress.close()
