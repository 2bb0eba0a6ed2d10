"""The loop around a script's step (``TrainingRun``) and the callbacks it calls each step."""
import math
import os
import sys
import time


import minigan
from .. import backend
from ..data import to_signed_range
from .checkpoint import KIND, VERSION, check_arch, checkpoint_path, list_checkpoints, \
    rng_state, set_rng_state
from .errors import CheckpointMismatch, Interrupted, NonFiniteLoss
from .log import MetricsLog, Progress, format_seconds, plot_checkpoint_metric, plot_losses, \
    save_grid, save_samples
from .signals import StopSignals


class NonFiniteGuard:
    """Stops the run at the first NaN or Inf value of a step: ``NonFiniteLoss``, naming the
    step and the last good checkpoint; the losses plot is drawn first, nothing is saved."""

    def after_step(self, run, step, values):
        bad = non_finite(values)
        if not bad:
            return
        run.progress.close()
        run.plot_losses()
        shown = ", ".join(f"{k} = {values[k]}" for k in bad)
        kept = (f"the last good checkpoint is {run.last_checkpoint}: resume from it"
                if run.last_checkpoint else "no checkpoint was written yet: start again")
        raise NonFiniteLoss(f"step {step}: {shown}; training diverged and stopped without "
                            f"saving; {kept}")


def non_finite(values):
    """The names of the NaN or Inf values of a step."""
    return [k for k, v in values.items() if v is not None and not math.isfinite(v)]


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
    ``callbacks``: objects with ``before_step(run, step)`` and/or ``after_step(run, step,
    values)``, called around each step after the ``NonFiniteGuard`` that every run has.
    """

    def __init__(self, out, models, optimizers, batches, total_steps, arch, config, fixed_z,
                 generator="G", columns=("loss_D", "loss_G", "D(x)", "D(G(z))"),
                 sample_every=200, checkpoint_every=500, log_every=50, keep=3,
                 plot=("loss_D", "loss_G"), title="losses", time_limit=None, evaluate=None,
                 callbacks=()):
        self.out, self.models, self.optimizers, self.batches = out, models, optimizers, batches
        self.total, self.arch, self.config, self.fixed_z = total_steps, arch, config, fixed_z
        self.generator, self.columns = generator, list(columns)
        self.sample_every, self.checkpoint_every = sample_every, checkpoint_every
        self.log_every, self.keep, self.plot, self.title = log_every, keep, plot, title
        self.time_limit = time_limit   # seconds of this process's loop, or None
        self.evaluate = evaluate
        self.callbacks = [NonFiniteGuard(), *callbacks]
        self.step = 0          # steps done
        self.elapsed = 0.0     # training seconds before this process
        self.last_checkpoint = None
        self.stopped_early = False   # set when the time limit ended the loop

    # ---- state ----
    def state_dict(self):
        return {"kind": KIND, "version": VERSION,
                "arch": self.arch, "config": self.config, "step": self.step,
                "elapsed": self.elapsed_seconds(),
                "models": {k: m.state_dict() for k, m in self.models.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "data": self.batches.state_dict(), "rng": rng_state(),
                "fixed_z": self.fixed_z.detach()}

    def restore(self, ckpt):
        """Continue from a checkpoint (``load_checkpoint``); raises when it does not fit."""
        check_arch(ckpt, self.arch)
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
            raise CheckpointMismatch(f"checkpoint {ckpt.get('path', '')} does not fit this "
                                     f"run ({e})") from None
        self.last_checkpoint = ckpt.get("path")

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

    def plot_losses(self):
        plot_losses(self.metrics, os.path.join(self.out, "losses.png"), self.plot, self.title)

    # ---- the loop ----
    def run(self, train_step, stream=None):
        """Call ``train_step(step)`` for the steps after ``self.step`` up to the total."""
        stream = stream or sys.stdout
        os.makedirs(self.out, exist_ok=True)
        real = self.batches.images[:self.fixed_z.shape[0]]
        save_grid(to_signed_range(backend.to_device(real, "cpu")),
                  os.path.join(self.out, "real_samples.png"))
        self.metrics = MetricsLog(os.path.join(self.out, "metrics.csv"),
                                  ["step", *self.columns, "seconds"], resume_step=self.step)
        if self.step >= self.total:
            print(f"nothing to do: the run is at step {self.step} of {self.total}", file=stream)
            self.metrics.close()
            return
        self.progress = Progress(self.total, self.step, self.log_every, stream)
        first = self._first = self.step + 1
        self._unread = []   # (step, values, seconds, epoch) of the steps not yet read
        self._started = time.perf_counter()
        try:
            with StopSignals() as signals:
                for step in range(first, self.total + 1):
                    values = self._one_step(train_step, step, signals)
                    if step == self.total or self.stopped_early or signals.requested:
                        break
        finally:
            self.progress.close()
            self.metrics.close()
        seconds = time.perf_counter() - self._started
        done = self.step - first + 1
        final = "  ".join(f"{k} {v:.3f}" for k, v in values.items() if v is not None)
        head = (f"stopped at the time limit ({format_seconds(self.time_limit)}) after step "
                f"{self.step} of {self.total}" if self.stopped_early else "done")
        print(f"{head}: steps {first}-{self.step} in {format_seconds(seconds)} "
              f"({1000 * seconds / done:.0f} ms/step), {final}; samples, metrics.csv, "
              f"losses.png and {os.path.basename(self.last_checkpoint)} in {self.out}",
              file=stream, flush=True)

    def _one_step(self, train_step, step, signals):
        """The step, then what it leaves: metrics rows, progress, grids, checkpoints.

        A step's values may stay on the GPU (0-d tensors): they are read together every
        ``log_every`` steps, at the first and the last step, and before a sample grid or a
        checkpoint, so a GPU step does not wait for the host. The rows, the guards and the
        progress line of the steps in between are done then, in order.
        """
        for callback in self.callbacks:
            getattr(callback, "before_step", _nothing)(self, step)
        values = train_step(step)
        self.step = step
        self.stopped_early = (self.time_limit is not None and step < self.total and
                              time.perf_counter() - self._started >= self.time_limit)
        self._unread.append((step, values, self.elapsed_seconds(), self.batches.epoch + 1))
        last = step == self.total or self.stopped_early or signals.requested
        periodic = self.checkpoint_every and step % self.checkpoint_every == 0
        sample = last or (self.sample_every and step % self.sample_every == 0)
        if not (last or periodic or sample or step == self._first or
                step % max(1, self.log_every) == 0):
            return values
        values = self._read_values()
        scores = {}
        if (last or periodic) and self.evaluate and not non_finite(values):
            scores = self.evaluate(step)
            values = {**values, **scores}
        _, _, seconds, epoch = self._unread.pop()
        self._report(step, values, seconds, epoch)
        last = last or signals.requested   # a signal may have come meanwhile
        if last or (self.sample_every and step % self.sample_every == 0):
            self.sample()
            self.plot_losses()
        for name in scores:
            plot_checkpoint_metric(self.metrics, name, os.path.join(self.out, f"{name}.png"))
        if last or periodic:
            self.save_checkpoint()
        if signals.requested:
            raise Interrupted(f"stopped by {signals.requested} after step {step}: wrote "
                              f"{self.last_checkpoint}")
        return values

    def _read_values(self):
        """Read every unread step's values (the first read waits for the GPU), and report
        all but the newest; its values are returned, for the caller to report."""
        read = [(step, {k: _number(v) for k, v in values.items()}, seconds, epoch)
                for step, values, seconds, epoch in self._unread]
        self._unread = read[-1:]
        for row in read[:-1]:
            self._report(*row)
        return read[-1][1]

    def _report(self, step, values, seconds, epoch):
        """A step's metrics row, the callbacks (the NaN guard first) and the progress line."""
        self.metrics.append({"step": step, **values, "seconds": seconds})
        for callback in self.callbacks:
            getattr(callback, "after_step", _nothing)(self, step, values)
        self.progress.update(step, epoch, values)


def _number(value):
    """A step's value as a float (None stays None): a tensor is read from its device."""
    return value.item() if hasattr(value, "item") else value


def _nothing(*args):
    return None
