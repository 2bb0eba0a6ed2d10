"""A score of the generator at some steps (the classifier-FID at each checkpoint), joined to
the step's row of metrics.csv and drawn in ``<name>.png``."""
import os

from ..log import plot_checkpoint_metric
from ..trainer import PRIORITY_WRITER
from .nan_guard import non_finite


class Score:
    """When its trigger fires, ``score()`` (e.g. a ``ClassifierFID`` of the generator) joins
    the step's values as ``name``; skipped when a value is NaN (the guard stops the run).
    It must not draw from the run's random streams, or a resumed run would not be exact.
    Give it the checkpoints' trigger: the score then sits beside the weights it measured."""

    priority = PRIORITY_WRITER   # before the row is observed: its value joins the row

    def __init__(self, score, name="fid"):
        self.score, self.name = score, name

    def __call__(self, trainer):
        if not non_finite(trainer.observation):
            trainer.observation[self.name] = self.score()


class ScorePlot:
    """``<name>.png`` in ``out``: a column of a ``MetricsCSV`` extension that only some rows
    fill (a ``Score``'s), as the line through its values. Give it the Score's trigger."""

    def __init__(self, metrics, out, name="fid"):
        self.metrics, self.name = metrics, name
        self.path = os.path.join(out, f"{name}.png")

    def __call__(self, trainer):
        if plot_checkpoint_metric(self.metrics.log, self.name, self.path) is not None:
            trainer.outputs[self.name] = self.path
