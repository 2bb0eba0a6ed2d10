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
It draws a progress line, stops on a NaN or Inf value
(``NonFiniteLoss``, no checkpoint written), and on Ctrl-C or SIGTERM finishes
the step, writes a checkpoint and raises ``Interrupted``. A ``time_limit`` ends
the loop early the same clean way, without an error.

A checkpoint is one ``minigan.save`` file: the models (buffers included), the
optimizers, the step, the data position and every RNG state, so N steps, a
resume, and N more equal 2N steps in one run, bit for bit.

``run_cli(main)`` turns a ``RunError`` into one line on stderr and its exit code
(2 for bad input, 130 for an interrupt): users see no traceback for their mistakes.

Testing hook: ``MINIGAN_TEST_NAN_AT_STEP=k`` in the environment fills every
parameter of every model with NaN just before step k, so that step's losses
really are NaN and the tests can watch the guard stop the run.
"""
import csv
import math
import os
import re
import signal
import sys
import threading
import time

import numpy as np

import minigan
from . import backend, vis
from .data import (BatchStream, DatasetError, DownloadError, download_dataset, find_dataset,
                   load_image_dataset, load_mnist_like, resize_images)
from .metrics import classifier_features, fid, load_classifier
from .serialization import CheckpointError

CHECKPOINT_KIND = "minigan.training checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)\.npz$")


# ---- errors a user can fix: one line, an exit code, no traceback ----

class RunError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""
    exit_code = 2


class NonFiniteLoss(RunError):
    """A loss became NaN or Inf."""


class Interrupted(RunError):
    """Ctrl-C or SIGTERM: a checkpoint was written."""
    exit_code = 130


def run_cli(main, argv=None):
    """Call ``main(argv)``; a RunError or Ctrl-C becomes one line on stderr and an exit code."""
    prog = os.path.basename(sys.argv[0]) or "minigan"
    try:
        main(argv)
    except RunError as e:
        print(f"{prog}: {'error: ' if e.exit_code == 2 else ''}{e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


def resolve_device(name):
    """'auto' -> 'cuda' where there is a GPU, else 'cpu'; 'cuda' without one is a RunError."""
    if name == "auto":
        return "cuda" if minigan.cuda.is_available() else "cpu"
    if name == "cuda":
        try:
            backend.require_cuda()
        except RuntimeError as e:
            raise RunError(f"{e}; use --device cpu (or auto)") from None
    return name


def settle_args(args, defaults, saved=None):
    """Fill every ``args`` attribute that is None: from ``saved`` (a checkpoint's config) when
    it has the key, else from ``defaults``. Returns the names taken from ``saved``."""
    taken = []
    for key, default in defaults.items():
        if getattr(args, key, None) is None:
            if saved is not None and key in saved:
                setattr(args, key, saved[key])
                taken.append(key)
            else:
                setattr(args, key, default)
    return taken


# ---- models ----

def build_models(arch, device="cpu"):
    """(G, D) for an architecture record, e.g. {"model": "dcgan", "image_size": 28, "nz": 100,
    "ngf": 64, "ndf": 64, "nc": 1}."""
    if arch.get("model") != "dcgan":
        raise RunError(f"unknown model {arch.get('model')!r} in the architecture record")
    G = minigan.models.DCGANGenerator(arch["image_size"], arch["nz"], arch["ngf"], arch["nc"])
    D = minigan.models.DCGANDiscriminator(arch["image_size"], arch["ndf"], arch["nc"])
    return G.to(device), D.to(device)


def describe_arch(arch):
    """'dcgan28 (nz 100, ngf 64, ndf 64, 1 channel)'."""
    sizes = ", ".join(f"{k} {arch[k]}" for k in ("nz", "ngf", "ndf") if k in arch)
    nc = arch.get("nc")
    return (f"{arch.get('model')}{arch.get('image_size')} ({sizes}, "
            f"{nc} channel{'s' if nc != 1 else ''})")


# ---- pictures ----

def save_samples(G, z, path, nrow=8):
    """The generator's images for ``z`` (eval mode: BatchNorm's running statistics) as a grid."""
    was_training = G.training
    G.eval()
    with minigan.no_grad():
        images = G(z)
    G.train(was_training)
    return save_grid(images, path, nrow)


def save_grid(images, path, nrow=8):
    """Images in [-1, 1] as a PNG grid; small images are drawn twice as large."""
    scale = 2 if images.shape[-1] <= 32 else 1
    return vis.save_image_grid(images, path, nrow=nrow, pad_value=128, scale=scale)


def plot_losses(metrics, path, names=("loss_D", "loss_G"), title="losses"):
    """``losses.png``: the named columns of a MetricsLog against the step."""
    steps = metrics.column("step")
    series = {name: metrics.column(name) for name in names if name in metrics.columns}
    return vis.plot_curves(series, path, title=title, x_start=int(steps[0]) if steps else 0,
                           smooth=0.9 if len(steps) >= 200 else 0.0)


def plot_checkpoint_metric(metrics, name, path, title=None):
    """``<name>.png``: a column logged at some steps only (empty elsewhere) against the step,
    as the line through its values; nothing is drawn before the first value."""
    steps = np.asarray(metrics.column("step"))
    ys = np.asarray(metrics.column(name))
    known = np.isfinite(ys)
    if not known.any():
        return None
    # NOTE: plot_curves puts row i at x = x_start + i (rows are consecutive steps); the values
    # interpolated at every step between two known ones draw the same line as the two points.
    inside = (steps >= steps[known][0]) & (steps <= steps[known][-1])
    line = np.where(inside, np.interp(steps, steps[known], ys[known]), np.nan)
    return vis.plot_curves({name: line}, path, title=title or f"{name} at the checkpoints",
                           x_start=int(steps[0]))


# ---- what every script's main() does before its loop ----

def load_batches(args, device, batches_per_step):
    """(data, batches, steps_per_epoch, total): the dataset the flags name, streamed in
    batches of ``args.batch_size``; a step takes ``batches_per_step`` real batches."""
    try:
        data = load_image_dataset(args.dataset, args.data_dir, args.image_size, args.limit,
                                  log=print)
    except (DatasetError, ValueError, OSError) as e:
        raise RunError(f"{e}".rstrip(".") + ("; replace the file, or delete it to download it "
                       "again" if "read_idx" in str(e) else "")) from None
    print(f"data: {data.name}, {len(data.images)} images of "
          f"{'x'.join(map(str, data.images.shape[1:]))}, from {data.source}")
    steps_per_epoch = len(data.images) // args.batch_size // batches_per_step
    if steps_per_epoch == 0:
        raise RunError(f"{len(data.images)} images make no step of {batches_per_step} "
                       f"batch(es) of {args.batch_size}: lower --batch-size")
    batches = BatchStream(data.images, args.batch_size, args.seed, device, data.name)
    total = args.steps if args.steps is not None else args.epochs * steps_per_epoch
    return data, batches, steps_per_epoch, total


def classifier_evaluation(args, data, G, device, columns):
    """With ``--eval-classifier``: the ``evaluate`` hook of ``TrainingRun`` (the FID at each
    checkpoint), with "fid" added to ``columns``; else None."""
    if not args.eval_classifier:
        return None
    real, described = fid_reference(data, log=print)
    fid_of = ClassifierFID(args.eval_classifier, real, args.nz, args.eval_samples, device,
                           seed=args.seed)
    print(f"FID at each checkpoint: {args.eval_samples} samples vs {described}, features "
          f"of {args.eval_classifier}")
    columns.append("fid")
    return lambda step: {"fid": fid_of(G)}


# ---- sample quality at each checkpoint ----

def fid_reference(data, log=None):
    """(uint8 images, description): the real images a run's FID compares with. For MNIST and
    Fashion-MNIST their test set (found beside the training files, else downloaded);
    the other sets have none: their training images."""
    if data.name not in ("mnist", "fashion-mnist"):
        return data.images, f"the {len(data.images)} {data.name} training images"
    folder = find_dataset(data.name, data.source, "test")
    try:
        folder = folder or download_dataset(data.name, "test", log=log)
        images, _ = load_mnist_like(data.name, folder, "test")
    except (DownloadError, ValueError, OSError) as e:
        raise RunError(f"no {data.name} test set for the FID: {e}".split("\n")[0]) from None
    # (N, 28, 28) -> (N, 1, S, S), as the run's images
    images = resize_images(images[:, None], data.images.shape[-1])
    return images, f"the {len(images)} {data.name} test images"


class ClassifierFID:
    """The classifier-FID of a generator (``metrics.classifier_fid``) at each checkpoint.

    The real features are computed once. The generator draws ``n`` images in eval mode
    from noise of its own NumPy generator (``seed``), the same noise at every call: two
    scores differ by the weights alone, and the run's random streams are left untouched,
    so a resumed run stays exact.
    """

    def __init__(self, path, real_images, nz, n, device, seed=0, batch_size=500):
        if not os.path.isfile(path):
            raise RunError(f"--eval-classifier {path}: no such file; pass a checkpoint written "
                           f"by examples/train_classifier.py")
        # NOTE: building the classifier draws initial weights (then replaced by the loaded
        # ones) from minigan's generator: put its state back, the run's noise must not move.
        state = rng_state()
        try:
            self.classifier = load_classifier(path).to(device)
        except ValueError as e:   # CheckpointError is a ValueError
            raise RunError(f"--eval-classifier: {e}") from None
        finally:
            set_rng_state(state)
        config = self.classifier.config
        takes = (config["in_channels"], config["image_size"], config["image_size"])
        if tuple(real_images.shape[1:]) != takes:
            raise RunError(f"--eval-classifier {path} takes {'x'.join(map(str, takes))} images "
                           f"but the run's are {'x'.join(map(str, real_images.shape[1:]))}")
        self.batch_size, self.device = batch_size, device
        self.real = classifier_features(self.classifier, real_images, batch_size)
        self.z = np.random.default_rng(seed).standard_normal((n, nz)).astype(np.float32)

    def __call__(self, G):
        was_training = G.training
        G.eval()
        images = []
        try:
            with minigan.no_grad():
                for start in range(0, len(self.z), self.batch_size):
                    z = minigan.tensor(self.z[start:start + self.batch_size], device=self.device)
                    images.append(backend.to_device(G(z).data, "cpu"))   # (B, C, H, W)
        finally:
            G.train(was_training)
        fake = classifier_features(self.classifier, np.concatenate(images),
                                           self.batch_size)
        return fid(fake, self.real)


# ---- metrics.csv ----

class MetricsLog:
    """One CSV row per step. Resuming at step s keeps the rows up to s and drops the rest."""

    def __init__(self, path, columns, resume_step=0):
        self.path, self.columns = os.fspath(path), list(columns)
        self.rows = []
        if resume_step > 0 and os.path.exists(self.path):
            with open(self.path, newline="") as f:
                for row in csv.DictReader(f):
                    try:
                        if int(row["step"]) <= resume_step:
                            self.rows.append({k: _number(row.get(k)) for k in self.columns})
                    except (KeyError, TypeError, ValueError):
                        continue   # a damaged row: leave it out
        # (Re)write what is kept, atomically, then append row by row.
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows([_cell(r[k]) for k in self.columns] for r in self.rows)
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", newline="")
        self._writer = csv.writer(self._file)

    def append(self, row):
        row = {k: row.get(k) for k in self.columns}
        self.rows.append(row)
        self._writer.writerow([_cell(row[k]) for k in self.columns])
        self._file.flush()

    def column(self, name):
        return [math.nan if r[name] is None else r[name] for r in self.rows]

    def close(self):
        self._file.close()


def _number(text):
    return None if text in (None, "") else float(text)


def _cell(value):
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"


# ---- progress ----

def format_seconds(s):
    """7 -> '0:07', 3725 -> '1:02:05'."""
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    h, m = divmod(s, 3600)
    m, s = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A progress line: epoch, step/total, it/s, ETA and the step's values.

    On a terminal one line is redrawn with '\\r'; elsewhere (logs, CI) a line is
    printed for the first step, every ``every`` steps and the last.
    """

    def __init__(self, total, start=0, every=50, stream=None, tty=None):
        self.total, self.start, self.every = total, start, max(1, every)
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = time.perf_counter()
        self._width = 0

    def rate(self, step):
        elapsed = time.perf_counter() - self.t0
        return (step - self.start) / elapsed if elapsed > 0 else math.nan

    def line(self, step, epoch, values):
        rate = self.rate(step)
        speed = (f"{rate:.2f} it/s" if rate >= 1 or not rate > 0 else f"{1 / rate:.2f} s/it")
        eta = (self.total - step) / rate if rate > 0 else math.nan
        done = step / self.total if self.total else 1.0
        bar = ("[" + "=" * int(20 * done) + " " * (20 - int(20 * done)) + "] ") if self.tty else ""
        shown = "  ".join(f"{k} {v:.3f}" for k, v in values.items()
                          if v is not None and k != "step")
        return (f"epoch {epoch} {bar}step {step}/{self.total} {100 * done:3.0f}%  {speed}  "
                f"ETA {format_seconds(eta)}  {shown}")

    def update(self, step, epoch, values):
        if self.tty:
            text = self.line(step, epoch, values)
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        elif step == self.start + 1 or step % self.every == 0 or step == self.total:
            self.stream.write(self.line(step, epoch, values) + "\n")
        self.stream.flush()

    def close(self):
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


# ---- checkpoints ----

def checkpoint_path(out, step):
    return os.path.join(out, f"checkpoint-{step:07d}.npz")


def list_checkpoints(out):
    """[(step, path)] of the checkpoints in ``out``, oldest first."""
    if not os.path.isdir(out):
        return []
    found = [(int(m.group(1)), os.path.join(out, name))
             for name in os.listdir(out) if (m := CHECKPOINT_NAME.match(name))]
    return sorted(found)


def find_checkpoint(spec, out):
    """The checkpoint ``--resume`` names: None, 'auto' (the newest in ``out``, or None when
    there is none), a file, or a folder (its newest).

    A fresh start (None) in an ``out`` that already holds checkpoints is a RunError: two
    runs in one folder would mix their files, and 'auto' would pick the wrong one.
    """
    if spec is None:
        found = list_checkpoints(out)
        if found:
            raise RunError(f"{out} already holds a run ({os.path.basename(found[-1][1])}): "
                           f"continue it with --resume auto, or pass another --out (or delete "
                           f"its checkpoints to start afresh)")
        return None
    if spec == "auto" or os.path.isdir(spec):
        folder = out if spec == "auto" else spec
        found = list_checkpoints(folder)
        if not found and spec != "auto":
            raise RunError(f"--resume {spec}: the folder holds no checkpoint-*.npz")
        return found[-1][1] if found else None
    if not os.path.isfile(spec):
        raise RunError(f"--resume {spec}: no such file; pass a checkpoint-*.npz, a run folder, "
                       f"or 'auto' for the newest in --out")
    return spec


def load_checkpoint(path):
    """The dict a TrainingRun saved; RunError for a damaged file or one of another kind."""
    try:
        ckpt = minigan.load(path, map_location="cpu")
    except (CheckpointError, OSError) as e:
        raise RunError(f"checkpoint {path} is damaged or not a checkpoint ({e}); delete it, or "
                       f"pass --resume an older one") from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise RunError(f"{path} is a minigan file but not a training checkpoint; pass one "
                       f"written by a training script")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise RunError(f"checkpoint {path} has version {ckpt.get('version')}; this minigan "
                       f"reads version {CHECKPOINT_VERSION}")
    ckpt["path"] = path
    return ckpt


def rng_state():
    """Every random state a run draws from: minigan's generator and NumPy's global one."""
    return {"minigan": minigan.get_rng_state(), "numpy": np.random.get_state(legacy=False)}


def set_rng_state(state):
    minigan.set_rng_state(state["minigan"])
    np.random.set_state(state["numpy"])


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


# ---- the loop ----

class TrainingRun:
    """The loop around a script's step, with samples, metrics, checkpoints and guards.

    ``models`` and ``optimizers`` are dicts by name; ``generator`` names the
    model drawn on ``fixed_z`` for the sample grids. ``arch`` describes the
    models (checked on resume), ``config`` the settings (saved for the next run).
    With ``time_limit`` (seconds) the loop stops after the first step past it,
    as cleanly as at the end: a sample grid, a checkpoint, and a resume continues.
    ``evaluate(step) -> {"fid": ...}`` is called at every checkpoint step before the
    checkpoint is written (not after a NaN): its values join that step's row of metrics.csv
    (name them in ``columns``; the other rows leave them empty) and each is drawn in
    ``<name>.png``. It must not draw from the run's random streams.
    """

    def __init__(self, out, models, optimizers, batches, total_steps, arch, config, fixed_z,
                 generator="G", columns=("loss_D", "loss_G", "D(x)", "D(G(z))"),
                 sample_every=200, checkpoint_every=500, log_every=50, keep=3,
                 plot=("loss_D", "loss_G"), title="losses", time_limit=None, evaluate=None):
        self.out, self.models, self.optimizers, self.batches = out, models, optimizers, batches
        self.total, self.arch, self.config, self.fixed_z = total_steps, arch, config, fixed_z
        self.generator, self.columns = generator, list(columns)
        self.sample_every, self.checkpoint_every = sample_every, checkpoint_every
        self.log_every, self.keep, self.plot, self.title = log_every, keep, plot, title
        self.time_limit = time_limit   # seconds of this process's loop, or None
        self.evaluate = evaluate
        self.step = 0          # steps done
        self.elapsed = 0.0     # training seconds before this process
        self.last_checkpoint = None

    # ---- state ----
    def state_dict(self):
        return {"kind": CHECKPOINT_KIND, "version": CHECKPOINT_VERSION,
                "arch": self.arch, "config": self.config, "step": self.step,
                "elapsed": self.elapsed_seconds(),
                "models": {k: m.state_dict() for k, m in self.models.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "data": self.batches.state_dict(), "rng": rng_state(),
                "fixed_z": self.fixed_z.detach()}

    def restore(self, ckpt):
        """Continue from a checkpoint (``load_checkpoint``): RunError when it does not fit."""
        path = ckpt.get("path", "the checkpoint")
        if ckpt["arch"] != self.arch:
            raise RunError(f"checkpoint {path} holds {describe_arch(ckpt['arch'])} but this run "
                           f"builds {describe_arch(self.arch)}: leave out the size flags to take "
                           f"them from the checkpoint, or use another --out")
        try:
            for name, model in self.models.items():
                model.load_state_dict(ckpt["models"][name])
            for name, opt in self.optimizers.items():
                opt.load_state_dict(ckpt["optimizers"][name])
            self.batches.load_state_dict(ckpt["data"])
            set_rng_state(ckpt["rng"])
            self.fixed_z = minigan.tensor(ckpt["fixed_z"].numpy(), device=self.fixed_z.device)
            self.step, self.elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise RunError(f"checkpoint {path} does not fit this run ({e}); start afresh in "
                           f"another --out") from None
        self.last_checkpoint = path

    def elapsed_seconds(self):
        started = getattr(self, "_started", None)
        return self.elapsed + (time.perf_counter() - started if started else 0.0)

    def save_checkpoint(self):
        """Write ``checkpoint-<step>.npz`` atomically; drop all but the newest ``keep``."""
        path = checkpoint_path(self.out, self.step)
        minigan.save(self.state_dict(), path)
        self.last_checkpoint = path
        for _, old in list_checkpoints(self.out)[:-self.keep]:
            os.remove(old)
        return path

    def sample(self):
        path = os.path.join(self.out, f"samples_{self.step:06d}.png")
        return save_samples(self.models[self.generator], self.fixed_z, path)

    # ---- the loop ----
    def run(self, train_step, stream=None):
        """Call ``train_step(step)`` for the steps after ``self.step`` up to the total."""
        stream = stream or sys.stdout
        os.makedirs(self.out, exist_ok=True)
        real = self.batches.images[:self.fixed_z.shape[0]]
        save_grid(backend.to_device(real, "cpu").astype(np.float32) / 127.5 - 1,
                  os.path.join(self.out, "real_samples.png"))
        metrics = MetricsLog(os.path.join(self.out, "metrics.csv"),
                             ["step", *self.columns, "seconds"], resume_step=self.step)
        if self.step >= self.total:
            print(f"nothing to do: the run is at step {self.step} of {self.total}", file=stream)
            metrics.close()
            return
        progress = Progress(self.total, self.step, self.log_every, stream)
        first = self.step + 1
        poison_at = int(os.environ.get("MINIGAN_TEST_NAN_AT_STEP", 0))
        self._started = time.perf_counter()
        out_of_time = False
        try:
            with StopSignals() as signals:
                for step in range(first, self.total + 1):
                    if step == poison_at:
                        for model in self.models.values():
                            for p in model.parameters():
                                p.data[...] = np.nan
                    values = train_step(step)
                    self.step = step
                    out_of_time = (self.time_limit is not None and
                                   time.perf_counter() - self._started >= self.time_limit)
                    last = step == self.total or out_of_time or signals.requested
                    periodic = self.checkpoint_every and step % self.checkpoint_every == 0
                    scores = {}
                    if (last or periodic) and self.evaluate and not _non_finite(values):
                        scores = self.evaluate(step)
                        values = {**values, **scores}
                    metrics.append({"step": step, **values, "seconds": self.elapsed_seconds()})
                    self._check_finite(step, values, metrics, progress)
                    progress.update(step, self.batches.epoch + 1, values)
                    last = last or signals.requested   # a signal may have come meanwhile
                    if last or (self.sample_every and step % self.sample_every == 0):
                        self.sample()
                        plot_losses(metrics, os.path.join(self.out, "losses.png"), self.plot,
                                    self.title)
                    for name in scores:
                        plot_checkpoint_metric(metrics, name,
                                               os.path.join(self.out, f"{name}.png"))
                    if last or periodic:
                        self.save_checkpoint()
                    if signals.requested:
                        raise Interrupted(f"stopped by {signals.requested} after step {step}: "
                                          f"wrote {self.last_checkpoint}; continue with "
                                          f"--resume auto")
                    if last:
                        break
        finally:
            progress.close()
            metrics.close()
        seconds = time.perf_counter() - self._started
        done = self.step - first + 1
        final = "  ".join(f"{k} {v:.3f}" for k, v in values.items() if v is not None)
        head = (f"stopped at the time limit ({format_seconds(self.time_limit)}) after step "
                f"{self.step} of {self.total} (continue with --resume auto)"
                if out_of_time and self.step < self.total else "done")
        print(f"{head}: steps {first}-{self.step} in {format_seconds(seconds)} "
              f"({1000 * seconds / done:.0f} ms/step), {final}; samples, metrics.csv, "
              f"losses.png and {os.path.basename(self.last_checkpoint)} in {self.out}",
              file=stream, flush=True)

    def _check_finite(self, step, values, metrics, progress):
        bad = _non_finite(values)
        if not bad:
            return
        progress.close()
        plot_losses(metrics, os.path.join(self.out, "losses.png"), self.plot, self.title)
        shown = ", ".join(f"{k} = {values[k]}" for k in bad)
        kept = (f"the last good checkpoint is {self.last_checkpoint}: resume from it"
                if self.last_checkpoint else "no checkpoint was written yet: start again")
        raise NonFiniteLoss(f"step {step}: {shown}; training diverged and stopped without "
                            f"saving; {kept} with a lower --lr or another --seed")


def _non_finite(values):
    """The names of the NaN or Inf values of a step."""
    return [k for k, v in values.items() if v is not None and not math.isfinite(v)]
