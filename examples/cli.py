"""The command line that every training example shares (the library knows no flags).

A script describes itself in a ``TrainingScript`` subclass (its defaults, its own flags,
its models and its step) and calls ``main(MyScript())``. The skeleton does the rest:
parse the flags, settle the device and the defaults (a resumed run takes the settings
left out from its checkpoint), load the data, build a ``minigan.training.Trainer`` of the
script's step with the extensions every run has (sample grids, metrics.csv, losses.png,
checkpoints, the FID, the progress line, the NaN guard, the time limit), run it, and turn
every error a user can fix into one line on stderr and an exit code (2; 130 for Ctrl-C).
The library raises typed errors that name no flag; the hints that do are here, in
``HINTS``.
"""
import argparse
import copy
import math
import os
import sys

try:
    import minigan
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import minigan
from minigan import training
from minigan.data import (SOURCES, BatchStream, DataFolderError, DatasetError, DatasetFormatError,
                          DownloadError, load_image_dataset)

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


class UsageError(Exception):
    """A flag's value is out of range, or flags contradict each other."""


# What the user can do about each library error, in this command line's words.
HINTS = {
    training.RunExists: "continue it with --resume auto, or pass another --out (or delete its "
                        "checkpoints to start afresh)",
    training.CheckpointNotFound: "pass --resume a checkpoint-*.npz, a run folder, or 'auto' for "
                                 "the newest in --out",
    training.BadCheckpoint: "delete it, or pass --resume an older one",
    training.CheckpointMismatch: "leave out the size flags to take them from the checkpoint, "
                                 "or use another --out",
    training.NonFiniteLoss: "try a lower --lr or another --seed",
    training.Interrupted: "continue with {resume}",
    training.NoTestSet: "leave out --eval-classifier, or put the test set beside the training "
                        "files (--data-dir)",
    training.EvaluationError: "--eval-classifier takes a checkpoint written by "
                              "examples/train_classifier.py for the run's images",
    training.RunFolderError: "pass --out a folder, or the name of one to make",
    DataFolderError: "pass --data-dir the folder that holds the dataset, or leave out "
                     "--data-dir to search the usual places",
    DatasetFormatError: "replace the file, or delete it to download it again",
    DatasetError: "see --dataset and --data-dir",
}


def run(main, argv=None):
    """Call ``main(argv)``; a user's error becomes one line on stderr and an exit code."""
    prog = os.path.basename(sys.argv[0]) or "minigan"
    try:
        main(argv)
    except training.Interrupted as e:
        print(f"{prog}: {with_hint(e)}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except (training.TrainingError, UsageError, DatasetError, DownloadError) as e:
        print(f"{prog}: error: {with_hint(e)}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


def with_hint(error):
    """The error's message, then what to do about it with this command line's flags."""
    text = str(error).rstrip(".")
    hint = next((h for kind, h in HINTS.items() if isinstance(error, kind)), None)
    if hint is None:
        return text
    # the flags that continue this run: set by ``train``, which knows its --out
    return f"{text}; " + hint.format(resume=getattr(error, "resume", "--resume auto"))


def flag(name):
    """The flag of a setting: 'batch_size' -> '--batch-size'."""
    return "--" + name.replace("_", "-")


# What each kind of range in ``check_ranges`` allows, and how its message says it.
RANGES = {"at_least_1": (lambda v: v >= 1, "must be at least 1"),
          "at_least_0": (lambda v: v >= 0, "must be at least 0"),
          "non_negative": (lambda v: math.isfinite(v) and v >= 0, "must be a number, at least 0"),
          "positive": (lambda v: math.isfinite(v) and v > 0, "must be a positive number"),
          "fraction": (lambda v: 0 <= v < 1, "must be in [0, 1)")}


def check_ranges(args, **names):
    """UsageError naming the first flag whose value is out of its range. ``names``: a kind
    of ``RANGES`` -> the settings of ``args`` in it; a setting left out (None) is skipped.

        check_ranges(args, at_least_1=("batch_size", "limit"), fraction=("beta1",))
    """
    for kind, settings in names.items():
        ok, what = RANGES[kind]
        for name in settings:
            value = getattr(args, name, None)
            if value is not None and not ok(value):
                raise UsageError(f"{flag(name)} {what}")


def resolve_device(name):
    """'auto' -> 'cuda' where there is a GPU, else 'cpu'; 'cuda' without one is an error."""
    if name == "auto":
        return "cuda" if minigan.cuda.is_available() else "cpu"
    if name == "cuda":
        try:
            minigan.backend.require_cuda()
        except RuntimeError as e:
            raise UsageError(f"{e}; use --device cpu (or auto)") from None
    return name


class TrainingScript:
    """What a training example tells the skeleton. Subclasses set the class attributes and
    write ``build`` and ``make_step``; the rest has defaults."""

    name = "gan"              # the default output folder is runs/<name>
    description = ""
    defaults = {}             # settings a resume takes from its checkpoint unless a flag gives them
    cpu_defaults = {}         # on a CPU: overrides of ``defaults``, and the bare run's
                              # ``steps`` and ``time_limit`` (minutes)
    gpu_epochs = 10           # the bare run's length on a GPU
    image_sizes = (28, 64)
    at_least_1 = ()           # settings of the script's own that must be at least 1,
    non_negative = ()         # a finite number at least 0,
    fraction = ()             # in [0, 1) (see ``check_ranges``)
    plot = ("loss_D", "loss_G")   # the columns drawn in losses.png
    title = "GAN losses"

    def add_flags(self, parser):
        """The script's own flags."""

    def check(self, args, device):
        """Raise UsageError for a bad combination of the script's own settings (their
        ranges are checked already), or one that ``device`` cannot run."""

    def batches_per_step(self, args):
        return 1

    def columns(self, args):
        """The values ``make_step``'s step returns, in metrics.csv's order."""
        return ["loss_D", "loss_G", "D(x)", "D(G(z))"]

    def arch(self, args, nc):
        """The architecture record (checked on resume): what ``models.build_gan`` takes."""
        raise NotImplementedError

    def build(self, arch, args, device):
        """({"G": G, "D": D}, {"G": opt_G, "D": opt_D})."""
        G, D = minigan.models.build_gan(arch, device)
        return {"G": G, "D": D}, {"G": adam(G, args), "D": adam(D, args)}

    def make_step(self, models, optimizers, batches, args, device):
        """``step(i) -> {"loss_D": ..., ...}``: one generator update and what comes with it."""
        raise NotImplementedError

    def describe(self, args):
        """What the start line says after the length of the run (e.g. 'k=1, lr 0.0002')."""
        return f"lr {args.lr:g}"


def adam(model, args):
    return minigan.optim.Adam(model.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))


def parse(script, argv=None):
    d, cpu = script.defaults, script.cpu_defaults
    p = argparse.ArgumentParser(
        description=script.description, epilog="Flags left out on --resume take their values "
        "from the checkpoint. Spellings after a comma are aliases.")
    a = p.add_argument
    a("--dataset", choices=SOURCES, help="auto (default): the first of MNIST, Fashion-MNIST "
      "(found on disk, else MNIST downloaded) and the synthetic set")
    a("--data-dir", help="folder of the IDX files (mnist, fashion-mnist; only it is searched) "
      "or of the images (folder); default: search $MINIGAN_DATA, ~/.cache/minigan/<name>, "
      "/usr/share/datasets/<name>")
    a("--limit", type=int, help="use only the first N images")
    if len(script.image_sizes) > 1:
        a("--image-size", type=int, choices=script.image_sizes, help="28: 1 channel (default); "
          "64: 3 channels (MNIST-like sets stay 1 channel)")
    a("--batch-size", type=int, help=f"images per batch (default {d['batch_size']}"
      + (f"; {cpu['batch_size']} on a CPU)" if "batch_size" in cpu else ")"))
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total generator steps, counted from the "
                        f"start of the run, resumes included (CPU default {cpu['steps']})")
    length.add_argument("--epochs", type=int, help=f"passes over the data (GPU default "
                        f"{script.gpu_epochs})")
    a("--lr", type=float, help=f"Adam learning rate of both models (default {d['lr']:g})")
    a("--beta1", "--b1", dest="beta1", type=float, help=f"Adam beta1 (default {d['beta1']:g})")
    a("--beta2", "--b2", dest="beta2", type=float, help=f"Adam beta2 (default {d['beta2']:g})")
    a("--nz", "--latent-dim", dest="nz", type=int, help=f"latent size (default {d['nz']})")
    if "ngf" in d:   # the convolutional models' widths
        for flag, what in (("ngf", "generator"), ("ndf", "discriminator")):
            a(f"--{flag}", type=int, help=f"{what} width (default {d[flag]}"
              + (f"; {cpu[flag]} on a CPU)" if flag in cpu else ")"))
    script.add_flags(p)
    a("--device", choices=("auto", "cpu", "cuda"), default="auto",
      help="auto (default): the GPU when there is one")
    a("--seed", type=int, help="seed of the weights, the noise and the data order (default 0)")
    a("--out", help=f"output folder (default runs/{script.name}; when it holds a run already, "
      f"the first free runs/{script.name}-2, -3, ...)")
    a("--sample-every", type=int, help="write an 8×8 grid of fixed-noise samples every N steps "
      f"(default {d['sample_every']}; 0: only at the end)")
    a("--checkpoint-every", type=int, help=f"write a checkpoint every N steps (default "
      f"{d['checkpoint_every']}; 0: only at the end and on Ctrl-C)")
    a("--time-limit", type=float, metavar="MIN", help="stop cleanly (sample grid, checkpoint) "
      f"after MIN minutes of training; --resume auto continues (default: "
      f"{cpu['time_limit']:g} on a CPU when neither --steps nor --epochs is given, else none)")
    a("--log-every", type=int, help="when stdout is not a terminal, print a progress line every "
      f"N steps (default {d['log_every']})")
    a("--eval-classifier", metavar="CKPT", help="at every checkpoint, log the classifier-FID "
      "of --eval-samples generated images (eval mode, fixed noise of its own seed) against "
      "the real test set (the training images for sets without one) in metrics.csv (fid) "
      "and fid.png; CKPT: a checkpoint of examples/train_classifier.py (default: none)")
    a("--eval-samples", type=int, metavar="N", help="generated images per FID (default "
      f"{d['eval_samples']}; {cpu['eval_samples']} on a CPU)")
    a("--resume", metavar="PATH|auto", help="continue from a checkpoint, a run folder, or auto: "
      "the newest checkpoint in --out (none there: start afresh)")
    return p.parse_args(argv)


def settle(script, args, device, saved):
    """Fill in the flags left out: from the checkpoint, else the defaults (for this device)."""
    defaults = dict(script.defaults)
    if device == "cpu":
        defaults.update({k: v for k, v in script.cpu_defaults.items() if k in defaults})
    for key, default in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, saved[key] if saved is not None and key in saved else default)
    if args.steps is None and args.epochs is None:
        if args.time_limit is None and device == "cpu":
            args.time_limit = script.cpu_defaults["time_limit"]
        if saved is not None:
            args.steps = saved["steps"]
        elif device == "cpu":
            args.steps = script.cpu_defaults["steps"]
        else:
            args.epochs = script.gpu_epochs
    check_ranges(args, at_least_1=("batch_size", "nz", "ngf", "ndf", "steps", "epochs", "limit",
                                   "log_every", *script.at_least_1),
                 at_least_0=("sample_every", "checkpoint_every"),
                 non_negative=script.non_negative,
                 positive=("lr", "time_limit"), fraction=("beta1", "beta2", *script.fraction))
    if args.eval_samples < 2:
        raise UsageError("--eval-samples must be at least 2")
    if args.out == "":
        raise UsageError("--out is empty: give it a folder, or leave it out")
    if args.eval_classifier and not os.path.isfile(args.eval_classifier):
        raise UsageError(f"{args.eval_classifier}: no such file; "
                         + HINTS[training.EvaluationError])
    script.check(args, device)


def choose_out(script, args):
    """--out as given; without it runs/<name>, or the first free runs/<name>-2, -3, ... when
    that holds a run and no --resume is asked for (said on stdout)."""
    if args.out is not None:
        return
    args.out = os.path.join("runs", script.name)
    if args.resume is None:
        free = training.free_folder(args.out)
        if free != args.out:
            print(f"{args.out} already holds a run: starting a new one in {free} "
                  f"(--resume auto continues the other)")
            args.out = free


def load_batches(args, device, batches_per_step):
    """(data, batches, steps_per_epoch, total): the dataset the flags name, streamed in
    batches of ``args.batch_size``; a step takes ``batches_per_step`` real batches."""
    try:
        data = load_image_dataset(args.dataset, args.data_dir, args.image_size, args.limit,
                                  log=print)
    except (DatasetError, DownloadError):
        raise   # their hints are in HINTS
    except (ValueError, OSError) as e:
        raise UsageError(f"{str(e).rstrip('.')} (see --dataset and --data-dir)") from None
    print(f"data: {data.name}, {len(data.images)} images of "
          f"{'x'.join(map(str, data.images.shape[1:]))}, from {data.source}")
    steps_per_epoch = len(data.images) // args.batch_size // batches_per_step
    if steps_per_epoch == 0:
        raise UsageError(f"{len(data.images)} images make no step of {batches_per_step} "
                         f"batch(es) of {args.batch_size}: lower --batch-size")
    batches = BatchStream(data.images, args.batch_size, args.seed, device, data.name)
    total = args.steps if args.steps is not None else args.epochs * steps_per_epoch
    return data, batches, steps_per_epoch, total


def fid_extensions(args, data, G, device, metrics, at_checkpoints):
    """With --eval-classifier: the classifier-FID of ``G`` at each checkpoint, as a Score
    and its ScorePlot (fid.png); else none."""
    if not args.eval_classifier:
        return []
    real, described = training.fid_reference(data, log=print)
    fid_of = training.ClassifierFID(args.eval_classifier, real, args.nz, args.eval_samples,
                                    device, seed=args.seed)
    print(f"FID at each checkpoint: {args.eval_samples} samples vs {described}, features "
          f"of {args.eval_classifier}")
    return [(training.Score(lambda: fid_of(G), "fid"), at_checkpoints),
            (training.ScorePlot(metrics, args.out, "fid"), at_checkpoints)]


def train(script, argv=None):
    """The whole run of a training example: a ``minigan.training.Trainer`` of the script's
    step, with the extensions every GAN run has."""
    args = parse(script, argv)
    device = resolve_device(args.device)
    # the flags given (the rest at their defaults), checked before a folder is chosen
    settle(script, copy.copy(args), device, None)
    choose_out(script, args)
    training.check_folder(args.out)
    ckpt_path = training.find_checkpoint(args.resume, args.out)
    ckpt = training.load_checkpoint(ckpt_path) if ckpt_path else None
    settle(script, args, device, ckpt["config"] if ckpt else None)
    minigan.manual_seed(args.seed)

    data, batches, steps_per_epoch, total = load_batches(args, device,
                                                         script.batches_per_step(args))
    arch = script.arch(args, data.images.shape[1])
    models, optimizers = script.build(arch, args, device)
    fixed_z = minigan.randn(64, args.nz, device=device)
    config = {k: getattr(args, k) for k in script.defaults}
    config.update(dataset=data.name, steps=total)

    # ---- the trainer: the script's step; the rest, extensions with their triggers ----
    trainer = training.Trainer(script.make_step(models, optimizers, batches, args, device),
                               total, epoch=lambda: batches.epoch + 1)
    at_samples = training.Interval(args.sample_every)
    at_checkpoints = training.Interval(args.checkpoint_every)
    out = args.out
    columns = script.columns(args) + (["fid"] if args.eval_classifier else [])
    metrics = trainer.extend(training.MetricsCSV(os.path.join(out, "metrics.csv"), columns))
    trainer.extend(training.NonFiniteGuard())
    if args.time_limit is not None:
        trainer.extend(training.TimeLimit(60 * args.time_limit))
    samples = trainer.extend(training.SampleGrid(out, models["G"], fixed_z,
                                                 real=data.images[:len(fixed_z)]), at_samples)
    trainer.extend(training.LossPlot(metrics, os.path.join(out, "losses.png"), script.plot,
                                     f"{script.title} ({data.name}, batch {args.batch_size})"),
                   at_samples)
    for extension, trigger in fid_extensions(args, data, models["G"], device, metrics,
                                             at_checkpoints):
        trainer.extend(extension, trigger)
    checkpoint = trainer.extend(training.Checkpoint(
        out, {"models": models, "optimizers": optimizers, "data": batches, "fixed_z": samples},
        arch, config), at_checkpoints)
    trainer.extend(training.ProgressLine(args.log_every))

    if ckpt:
        checkpoint.resume(trainer, ckpt)
        print(f"resuming from {ckpt_path} at step {trainer.step}")
    if trainer.step >= total:
        print(f"nothing to do: the run is at step {trainer.step} of {total}")
        return
    print(f"{training.describe_arch(arch)} on {device}: {total} steps of batch "
          f"{args.batch_size} ({total / steps_per_epoch:.1f} epochs), {script.describe(args)}"
          + (f", at most {args.time_limit:g} min" if args.time_limit else "")
          + f"; writing to {out}", flush=True)
    resume = f"--resume auto --out {out}"
    try:
        trainer.run()
    except training.Interrupted as e:
        e.resume = resume
        raise
    if trainer.stop_reason:
        print(f"continue with {resume}", flush=True)


def main(script, argv=None):
    """``python examples/train_<name>.py``: ``train`` with errors as one line and exit code."""
    run(lambda argv: train(script, argv), argv)
