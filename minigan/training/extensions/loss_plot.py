"""``losses.png``: the step's losses against the step."""
from ..log import plot_losses


class LossPlot:
    """Draws the columns ``names`` of a ``MetricsCSV`` extension's rows into ``path``: when
    its trigger fires, and when a TrainingError (a NaN) stops the run, to show how it got
    there."""

    def __init__(self, metrics, path, names=("loss_D", "loss_G"), title="losses"):
        self.metrics, self.path, self.names, self.title = metrics, path, names, title

    def __call__(self, trainer):
        plot_losses(self.metrics.log, self.path, self.names, self.title)
        trainer.outputs["plot"] = self.path

    def on_error(self, trainer, error):
        if self.metrics.log is not None and self.metrics.log.rows:
            self(trainer)
