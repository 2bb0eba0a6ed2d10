"""What every GAN training script needs besides its loss: the loop and what it leaves behind.

A script builds its models, optimizers and a ``data.BatchStream``, writes its
own step (``step(i) -> {"loss_D": ..., ...}``), and hands them to ``TrainingRun``:

    run = TrainingRun(out, {"G": G, "D": D}, {"G": opt_G, "D": opt_D}, batches,
                      total_steps, arch, config, fixed_z)
    run.restore(load_checkpoint(path))      # when resuming
    run.run(step)

``run`` writes into ``out``: ``real_samples.png``; ``samples_<step>.png``, an 8×8
grid of the generator on ``fixed_z`` every ``sample_every`` steps and at the end;
``metrics.csv`` (step, the step's values, seconds) and ``losses.png``;
``checkpoint-<step>.npz`` every ``checkpoint_every`` steps and at the end (the
newest ``keep`` are kept). With ``evaluate`` (e.g. a ``ClassifierFID``) it also scores
the generator at every checkpoint: a column of metrics.csv and ``<name>.png``.
It draws a progress line, stops on a NaN or Inf value (the ``NonFiniteGuard``
callback: ``NonFiniteLoss``, no checkpoint written), and on Ctrl-C or SIGTERM
finishes the step, writes a checkpoint and raises ``Interrupted``. A ``time_limit``
ends the loop early the same clean way, without an error.

The pieces, one concern a file (as Chainer's trainer and its extensions):
    loop.py        TrainingRun and its callbacks (NonFiniteGuard)
    log.py         metrics.csv, the progress line, sample grids and plots
    checkpoint.py  checkpoint files: find, read, check; RNG states
    evaluation.py  the classifier-FID at each checkpoint
    signals.py     Ctrl-C and SIGTERM between two steps
    errors.py      the typed errors; their messages name no command-line flag
Only a script turns an error into a message and an exit code (examples/cli.py).
"""
from .checkpoint import (check_arch, checkpoint_path, describe_arch, find_checkpoint,
                         free_folder, list_checkpoints, load_checkpoint, rng_state,
                         set_rng_state)
from .errors import (BadCheckpoint, CheckpointMismatch, CheckpointNotFound, EvaluationError,
                     Interrupted, NonFiniteLoss, NoTestSet, RunExists, TrainingError)
from .evaluation import ClassifierFID, fid_reference
from .log import (MetricsLog, Progress, format_seconds, plot_checkpoint_metric, plot_losses,
                  save_grid, save_samples)
from .loop import NonFiniteGuard, TrainingRun, non_finite
from .signals import StopSignals
