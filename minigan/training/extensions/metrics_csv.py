"""``metrics.csv``: one row per step, its values and the training seconds so far."""
from ..checkpoint import make_folder
from ..log import MetricsLog


class MetricsCSV:
    """Writes every step's row to ``path`` (the columns: step, ``columns``, seconds; a value a
    step leaves out stays empty). A resumed run keeps the rows up to its step and drops the
    rest. ``log``, a ``MetricsLog``, holds the rows for the plots."""

    def __init__(self, path, columns):
        self.path, self.columns = path, ["step", *columns, "seconds"]
        self.log = None

    def initialize(self, trainer):
        make_folder(self.path, parent=True)
        self.log = MetricsLog(self.path, self.columns, resume_step=trainer.step)
        trainer.outputs["metrics"] = self.path

    def observe(self, trainer, row):
        self.log.append({"step": row.step, **row.values, "seconds": row.seconds})

    def finalize(self, trainer):
        if self.log is not None:
            self.log.close()
