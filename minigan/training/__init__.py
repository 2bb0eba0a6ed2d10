"""Training, as Chainer lays it out: a small loop, and everything else an extension.

A script builds its models, optimizers and data, writes its step (``step(i) ->
{"loss_D": ..., ...}``), and gives it to a ``Trainer`` with the extensions it wants, each
with a trigger (``Interval(n)``: every n steps and at the end):

    trainer = Trainer(step, stop=3000, epoch=lambda: batches.epoch + 1)
    metrics = trainer.extend(MetricsCSV("out/metrics.csv", ["loss_D", "loss_G"]))
    trainer.extend(NonFiniteGuard())
    trainer.extend(SampleGrid("out", G, fixed_z, real=images[:64]), Interval(200))
    trainer.extend(LossPlot(metrics, "out/losses.png"), Interval(200))
    checkpoint = trainer.extend(Checkpoint("out", {"models": {"G": G, "D": D}, ...},
                                           arch, config), Interval(500))
    trainer.extend(ProgressLine(every=50))
    checkpoint.resume(trainer, load_checkpoint(path))      # when resuming
    trainer.run()

The trainer only steps, stops between two steps on Ctrl-C or SIGTERM (``Interrupted``,
after the extensions ran as at the last step: a checkpoint is written), and reads a GPU
step's values only when an extension needs them.

The pieces, one concern a file:
    trainer.py     Trainer, the Interval trigger, the extension protocol
    extensions/    one extension a file: sample grid, checkpoint, score (FID), metrics.csv,
                   loss plot, progress line, NaN guard, time limit
    log.py         what they draw and write: MetricsLog, Progress, grids, plots
    checkpoint.py  checkpoint files: find, read, check; the run folder; RNG states
    evaluation.py  the classifier-FID of a generator (a Score for the extension)
    signals.py     Ctrl-C and SIGTERM between two steps
    errors.py      the typed errors; their messages name no command-line flag
Only a script turns an error into a message and an exit code (examples/cli.py).
"""
from .checkpoint import (check_arch, check_folder, checkpoint_path, describe_arch,
                         find_checkpoint, free_folder, list_checkpoints, load_checkpoint,
                         make_folder, rng_state, set_rng_state)
from .errors import (BadCheckpoint, CheckpointMismatch, CheckpointNotFound, EvaluationError,
                     Interrupted, NonFiniteLoss, NoTestSet, RunExists, RunFolderError,
                     TrainingError)
from .evaluation import ClassifierFID, fid_reference
from .extensions import (Checkpoint, LossPlot, MetricsCSV, NonFiniteGuard, ProgressLine,
                         SampleGrid, Score, ScorePlot, TimeLimit, non_finite)
from .log import (MetricsLog, Progress, format_seconds, plot_checkpoint_metric, plot_losses,
                  save_grid, save_samples)
from .signals import StopSignals
from .trainer import (PRIORITY_LAST, PRIORITY_READER, PRIORITY_WRITER, Interval, Row, Trainer,
                      describe_outputs, read_value)
