"""The errors a training run raises: typed, each message says what is wrong and where.

They name no command-line flag: a script knows its flags and adds the hint (see
examples/cli.py, which turns each into one line and an exit code).
"""


class TrainingError(Exception):
    """Something about a run that its user can fix (bad input, a diverged loss, a stop)."""


class NonFiniteLoss(TrainingError):
    """A step's value became NaN or Inf; nothing was saved after it."""


class Interrupted(TrainingError):
    """Ctrl-C or SIGTERM stopped the run between two steps; a checkpoint was written."""


class RunExists(TrainingError):
    """A fresh run was asked for in a folder that already holds a run's checkpoints."""


class RunFolderError(TrainingError):
    """The folder a run writes into cannot be made: a file is in the way, or no permission."""


class CheckpointNotFound(TrainingError):
    """No checkpoint where one was named."""


class BadCheckpoint(TrainingError):
    """A file that is damaged, not a training checkpoint, or of another version."""


class CheckpointMismatch(TrainingError):
    """A checkpoint of other models than the run builds."""


class EvaluationError(TrainingError):
    """The evaluation at the checkpoints cannot be set up: the classifier is missing, damaged
    or made for other images."""


class NoTestSet(EvaluationError):
    """The dataset's test split, the FID's reference, is neither on disk nor downloadable."""
