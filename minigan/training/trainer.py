"""The loop: ``Trainer(step, stop)`` runs the step; ``trainer.extend`` adds the rest.

A trainer calls ``step(i)`` for i = step + 1, ..., stop and nothing else. What a run shows
and leaves behind (grids, checkpoints, metrics, plots, guards, a time limit) is an
extension: an object the trainer calls after a step when its trigger says so. An
extension may have any of these, all optional:

    __call__(trainer)          after a step, when ``trigger(trainer)`` is true
    observe(trainer, row)      each step's ``Row`` (step, values, seconds, epoch), in order,
                               once its values are read (see below)
    initialize(trainer)        before the first step (after a resume set ``trainer.step``)
    finalize(trainer)          after the loop, whatever ended it
    on_error(trainer, error)   a TrainingError left the loop (before ``finalize``)
    trigger, priority, reads   the defaults of ``extend``'s arguments

Reading a step's values: a step may return 0-d tensors left on the GPU. The trainer reads
them (the first read waits for the GPU) only when an extension that ``reads`` (the
default) fires; then every row not yet read is read, and observed, in order. So a GPU
step runs ahead of the host between two such extensions.

Order: extensions run by ``priority``, highest first, then in the order they were added.
Those of ``PRIORITY_WRITER`` (or above) run before the step's row is observed, and may add
values to it (``trainer.observation``); the others after, so a guard that observes the row
(a NaN) stops the run before, say, a checkpoint is written.
"""
import os
import time
from collections import namedtuple

from .errors import Interrupted, TrainingError
from .signals import StopSignals

PRIORITY_WRITER = 300   # runs before the step's row is observed: may add values to it
PRIORITY_READER = 100   # the default: runs after
PRIORITY_LAST = 0       # after every other one (the summary of a run)

# One step's record: ``values`` as the step returned them (read: floats or None),
# ``seconds`` of training up to the step's end, ``epoch`` from the trainer's ``epoch``.
Row = namedtuple("Row", "step values seconds epoch")


class Interval:
    """A trigger: every ``n`` steps (not at all for n = 0), at the run's last step
    (``end``), and at the first step this process runs (``first``)."""

    def __init__(self, n, end=True, first=False):
        if n < 0:
            raise ValueError(f"Interval: n = {n}, must be at least 0")
        self.n, self.end, self.first = n, end, first

    def __call__(self, trainer):
        return bool((self.n and trainer.step % self.n == 0) or (self.end and trainer.is_last)
                    or (self.first and trainer.step == trainer.first))


class Trainer:
    """Runs ``step(i) -> {name: value}`` for the steps after ``trainer.step`` up to ``stop``.

    ``stop`` is the number of the last step (steps are counted over the whole run, resumes
    included). ``epoch()``, when given, is read after each step for its ``Row``. The loop
    stops between two steps on SIGINT or SIGTERM: the extensions run as at the last step,
    then ``Interrupted`` is raised. An extension may end the run after the current step
    as cleanly as at ``stop`` with ``request_stop(reason)``.

    State an extension may read: ``step`` (steps done), ``first`` (the first step of this
    process), ``observation`` (the newest read values, which extensions of
    PRIORITY_WRITER may add to), ``elapsed`` (training seconds before this process; a
    resume sets it), ``stop_reason`` / ``signal`` (why the run ends early), ``outputs``
    (kind -> the newest file of that kind; ``outputs["checkpoint"]`` is the one to continue
    from, set by the Checkpoint extension).
    """

    def __init__(self, step, stop, epoch=None):
        self.train_step, self.stop, self.epoch = step, stop, epoch
        self.step = 0
        self.first = 1
        self.elapsed = 0.0
        self.observation = {}
        self.outputs = {}
        self.stop_reason = None
        self.signal = None
        self._entries = []       # (priority, order, extension, trigger, reads)
        self._unread = []        # the rows whose values were not read yet
        self._held = None        # the newest read row, while the writers may add to it
        self._holding = False
        self._started = None

    def extend(self, extension, trigger=None, priority=None, reads=None):
        """Call ``extension`` after the steps where ``trigger(trainer)`` is true: a trigger,
        an int n (``Interval(n)``), or None (the extension's ``trigger``, else every step)."""
        trigger = getattr(extension, "trigger", 1) if trigger is None else trigger
        if isinstance(trigger, int):
            trigger = Interval(trigger)
        if priority is None:
            priority = getattr(extension, "priority", PRIORITY_READER)
        reads = getattr(extension, "reads", True) if reads is None else reads
        self._entries.append((priority, len(self._entries), extension, trigger, reads))
        self._entries.sort(key=lambda e: (-e[0], e[1]))
        return extension

    @property
    def extensions(self):
        return [e[2] for e in self._entries]

    @property
    def is_last(self):
        """Whether the step just run is the run's last: at ``stop``, or stopped early."""
        return self.step >= self.stop or self.stop_reason is not None or self.signal is not None

    def request_stop(self, reason):
        """End the run after this step, as cleanly as at its end (``reason``: 'the time
        limit (9:00)')."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def elapsed_seconds(self):
        """Training seconds of the whole run so far."""
        return self.elapsed + (time.perf_counter() - self._started if self._started else 0.0)

    @property
    def seconds(self):
        """Seconds this process has run the loop."""
        return time.perf_counter() - self._started if self._started else 0.0

    # ---- the loop ----
    def run(self):
        """The steps after ``self.step`` up to ``stop`` (none when it is there already)."""
        if self.step >= self.stop:
            return
        self.first = self.step + 1
        self._started = time.perf_counter()
        try:
            for ext in self.extensions:
                _call(ext, "initialize", self)
            with StopSignals() as signals:
                while not self.is_last:
                    self._one_step(signals)
                self._read()      # rows no extension has read yet
                self._release()
        except TrainingError as error:
            for ext in self.extensions:
                _call(ext, "on_error", self, error)
            raise
        finally:
            for ext in self.extensions:
                _call(ext, "finalize", self)
        if self.signal is not None:
            left = describe_outputs(list(self.outputs.values()))
            raise Interrupted(f"stopped by {self.signal} after step {self.step}"
                              + (f": left {left}" if left else ""))

    def _one_step(self, signals):
        step = self.step + 1
        values = self.train_step(step)
        self.step = step
        self._unread.append(Row(step, values, self.elapsed_seconds(),
                                self.epoch() if self.epoch else None))
        # NOTE: a signal that comes while the extensions run ends the run after the next
        # step: the extensions of this one have already decided it was not the last.
        self.signal = signals.requested
        self._holding = True
        for priority, _, ext, trigger, reads in self._entries:
            if self._holding and priority < PRIORITY_WRITER:
                self._release()
            if not callable(ext) or not trigger(self):
                continue
            if reads:
                self._read()
            ext(self)
        self._release()

    def _read(self):
        """Read every unread row's values and observe them; while the writers run, the
        newest row is held back (its values are ``observation``, for them to add to)."""
        if not self._unread:
            return
        rows = [row._replace(values={k: read_value(v) for k, v in row.values.items()})
                for row in self._unread]
        self._unread = []
        for row in rows[:-1]:
            self._observe(row)
        self._held = rows[-1]
        self.observation = self._held.values
        if not self._holding:
            self._release()

    def _release(self):
        """Observe the held row: the writers are done with it."""
        self._holding = False
        if self._held is not None:
            row, self._held = self._held, None
            self._observe(row)

    def _observe(self, row):
        for ext in self.extensions:
            _call(ext, "observe", self, row)


def read_value(value):
    """A step's value as a float (None stays None): a tensor is read from its device."""
    return value.item() if hasattr(value, "item") else value


def describe_outputs(paths):
    """'a.png, metrics.csv and c.npz in runs/x' (full paths when they are in several folders)."""
    if not paths:
        return ""
    folders = {os.path.dirname(p) for p in paths}
    names = [os.path.basename(p) for p in paths] if len(folders) == 1 else list(paths)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return listed + (f" in {folders.pop()}" if len(folders) == 1 and "" not in folders else "")


def _call(ext, hook, *args):
    method = getattr(ext, hook, None)
    if method is not None:
        method(*args)
