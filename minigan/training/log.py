"""What a run shows while it trains and leaves behind: metrics.csv, the progress line,
the sample grids and the plots."""
import csv
import math
import os
import sys
import time

import numpy as np

import minigan
from .. import vis


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
                            self.rows.append({k: _parse_cell(row.get(k)) for k in self.columns})
                    except (KeyError, TypeError, ValueError):
                        continue   # a damaged row: leave it out
        # (Re)write what is kept, atomically, then append row by row.
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows([_format_cell(r[k]) for k in self.columns] for r in self.rows)
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", newline="")
        self._writer = csv.writer(self._file)

    def append(self, row):
        row = {k: row.get(k) for k in self.columns}
        self.rows.append(row)
        self._writer.writerow([_format_cell(row[k]) for k in self.columns])
        self._file.flush()

    def column(self, name):
        return [math.nan if r[name] is None else r[name] for r in self.rows]

    def close(self):
        self._file.close()


def _parse_cell(text):
    """A cell of metrics.csv as a float; an empty one (a value the step left out) is None."""
    return None if text in (None, "") else float(text)


def _format_cell(value):
    """A value as metrics.csv writes it: '' for None, '3' for 3.0, else 6 significant digits."""
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
        head = f"epoch {epoch} " if epoch is not None else ""
        bar = ("[" + "=" * int(20 * done) + " " * (20 - int(20 * done)) + "] ") if self.tty else ""
        shown = "  ".join(f"{k} {v:.3f}" for k, v in values.items()
                          if v is not None and k != "step")
        return (f"{head}{bar}step {step}/{self.total} {100 * done:3.0f}%  {speed}  "
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
