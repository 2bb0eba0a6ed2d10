"""minigan.training: the Trainer and its extensions (metrics, progress, sample grids,
checkpoints and exact resume, guards, the time limit), checkpoint files and run folders.
The data a run is fed is tested in test_training_data.py."""
import io
import os
import signal

import numpy as np
import pytest

import minigan
from minigan import data, training
from minigan.data import BatchStream
from minigan.serialization import leaves


# ---- progress and metrics ----

class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_and_in_a_log():
    values = {"loss_D": 1.25, "loss_G": 0.5, "D(x)": 0.75, "D(G(z))": 0.25, "r1": None}
    tty = Terminal()
    progress = training.Progress(10, start=2, stream=tty)
    for step in range(3, 11):
        progress.update(step, 1, values)
    progress.close()
    text = tty.getvalue()
    assert text.count("\r") == 8 and text.endswith("\n") and text.count("\n") == 1
    last = text.split("\r")[-1]
    for part in ("epoch 1", "step 10/10", "100%", "it/s", "ETA 0:00", "loss_D 1.250",
                 "loss_G 0.500", "D(x) 0.750", "D(G(z)) 0.250", "[===================="):
        assert part in last, part
    assert "r1" not in last
    log = io.StringIO()
    progress = training.Progress(10, start=2, every=4, stream=log)
    for step in range(3, 11):
        progress.update(step, 2, values)
    lines = log.getvalue().splitlines()
    assert [line.split("step ")[1].split("/")[0] for line in lines] == ["3", "4", "8", "10"]
    assert "\r" not in log.getvalue() and "ETA" in lines[0]


def test_metrics_log_resume_keeps_rows_up_to_the_step(tmp_path):
    path = tmp_path / "metrics.csv"
    log = training.MetricsLog(path, ["step", "loss", "r1"])
    for step in range(1, 6):
        log.append({"step": step, "loss": step / 4, "r1": 0.5 if step % 2 == 0 else None})
    log.close()
    assert path.read_text().splitlines()[:3] == ["step,loss,r1", "1,0.25,", "2,0.5,0.5"]
    log = training.MetricsLog(path, ["step", "loss", "r1", "extra"], resume_step=3)
    log.append({"step": 4, "loss": 9.0, "extra": 1})
    log.close()
    assert path.read_text().splitlines() == ["step,loss,r1,extra", "1,0.25,,", "2,0.5,0.5,",
                                             "3,0.75,,", "4,9,,1"]
    assert np.isnan(log.column("r1")[0]) and log.column("loss") == [0.25, 0.5, 0.75, 9.0]


# ---- checkpoints ----

def test_checkpoint_lookup_and_bad_files(tmp_path):
    assert training.find_checkpoint(None, tmp_path) is None
    assert training.find_checkpoint("auto", tmp_path) is None
    for step in (5, 40, 300):
        (tmp_path / f"checkpoint-{step:07d}.npz").write_bytes(b"x")
    newest = str(tmp_path / "checkpoint-0000300.npz")
    assert training.find_checkpoint("auto", str(tmp_path)) == newest
    with pytest.raises(training.RunExists, match="already holds a run"):
        training.find_checkpoint(None, str(tmp_path))     # a fresh start would mix two runs
    assert training.find_checkpoint(str(tmp_path), "elsewhere") == newest
    with pytest.raises(training.CheckpointNotFound, match="no such file"):
        training.find_checkpoint(str(tmp_path / "nope.npz"), tmp_path)
    with pytest.raises(training.BadCheckpoint, match="damaged or not a checkpoint"):
        training.load_checkpoint(newest)
    minigan.save({"weights": np.zeros(3)}, tmp_path / "other.npz")
    with pytest.raises(training.BadCheckpoint, match="not a training checkpoint"):
        training.load_checkpoint(str(tmp_path / "other.npz"))


def test_rng_state_round_trip_through_a_file_leaving_numpys_alone(tmp_path):
    minigan.manual_seed(3)
    minigan.randn(5)
    minigan.save(training.rng_state(), tmp_path / "rng.npz")
    expected = minigan.randn(4).numpy()
    users = np.random.get_state(legacy=False)
    training.set_rng_state(minigan.load(tmp_path / "rng.npz"))
    np.testing.assert_array_equal(minigan.randn(4).numpy(), expected)
    assert_same_state(np.random.get_state(legacy=False), users)


def assert_same_state(a, b):
    """Two NumPy global generator states (dicts of arrays and numbers) are equal."""
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same_state(a[key], b[key])
        else:
            np.testing.assert_array_equal(a[key], b[key])


# ---- the loop, on a toy "GAN" ----


def test_a_run_folder_that_cannot_be_made_is_a_typed_error(tmp_path):
    (tmp_path / "file").write_text("x")
    training.check_folder(tmp_path / "new" / "deeper")      # can be made: nothing is made
    assert not (tmp_path / "new").exists()
    with pytest.raises(training.RunFolderError, match="cannot be a run folder: it is a file"):
        training.check_folder(tmp_path / "file")
    with pytest.raises(training.RunFolderError, match="it is under a file, .*file$"):
        training.check_folder(tmp_path / "file" / "run")
    for path in (tmp_path / "file", tmp_path / "file" / "run"):
        with pytest.raises(training.RunFolderError, match="cannot make the folder"):
            training.make_folder(path)
    training.make_folder(tmp_path / "a" / "metrics.csv", parent=True)
    assert (tmp_path / "a").is_dir()


# ---- the trainer ----

class Recorder:
    """An extension that notes what the trainer asks of it, into a shared list."""

    def __init__(self, name, seen, trigger=1, priority=None, adds=None):
        self.name, self.seen, self.trigger, self.adds = name, seen, trigger, adds
        if priority is not None:
            self.priority = priority

    def initialize(self, trainer):
        self.seen.append((self.name, "initialize", trainer.step))

    def __call__(self, trainer):
        self.seen.append((self.name, "call", trainer.step, trainer.is_last))
        if self.adds:
            trainer.observation[self.adds] = 10.0 * trainer.step

    def observe(self, trainer, row):
        self.seen.append((self.name, "observe", row.step, dict(row.values), row.epoch))

    def finalize(self, trainer):
        self.seen.append((self.name, "finalize", trainer.step))


def test_the_trainer_only_steps_and_calls_its_extensions_by_trigger_and_priority():
    steps, seen = [], []
    trainer = training.Trainer(lambda i: steps.append(i) or {"loss": float(i)}, 4,
                               epoch=lambda: 7)
    trainer.extend(Recorder("late", seen, trigger=2))
    trainer.extend(Recorder("writer", seen, trigger=training.Interval(3), adds="score",
                            priority=training.PRIORITY_WRITER))
    trainer.run()
    assert steps == [1, 2, 3, 4] and trainer.step == 4
    # by priority (the writer first), then in the order added
    assert seen[:2] == [("writer", "initialize", 0), ("late", "initialize", 0)]
    assert seen[-2:] == [("writer", "finalize", 4), ("late", "finalize", 4)]
    # every row observed once, in order, when an extension that fires reads; a writer's
    # value joins its row, which is observed after the writers and before the others run
    assert seen[2:-2] == [
        ("writer", "observe", 1, {"loss": 1.0}, 7), ("late", "observe", 1, {"loss": 1.0}, 7),
        ("writer", "observe", 2, {"loss": 2.0}, 7), ("late", "observe", 2, {"loss": 2.0}, 7),
        ("late", "call", 2, False),
        ("writer", "call", 3, False),
        ("writer", "observe", 3, {"loss": 3.0, "score": 30.0}, 7),
        ("late", "observe", 3, {"loss": 3.0, "score": 30.0}, 7),
        ("writer", "call", 4, True),
        ("writer", "observe", 4, {"loss": 4.0, "score": 40.0}, 7),
        ("late", "observe", 4, {"loss": 4.0, "score": 40.0}, 7),
        ("late", "call", 4, True)]
    # at the stop already: nothing runs
    trainer.run()
    assert steps == [1, 2, 3, 4]


def test_the_rows_are_read_in_order_even_when_no_extension_reads():
    seen = []
    trainer = training.Trainer(lambda i: {"v": float(i)}, 3)
    trainer.extend(Recorder("r", seen, trigger=0, priority=training.PRIORITY_WRITER))
    trainer.run()
    assert [s[2] for s in seen if s[1] == "observe"] == [1, 2, 3]
    assert training.Interval(0)(trainer) and not training.Interval(0, end=False)(trainer)
    with pytest.raises(ValueError, match="at least 0"):
        training.Interval(-1)


def test_describe_outputs():
    assert training.describe_outputs([]) == ""
    assert training.describe_outputs(["r/a.png"]) == "a.png in r"
    assert training.describe_outputs(["r/a", "r/b", "r/c"]) == "a, b and c in r"
    assert training.describe_outputs(["a", "s/b"]) == "a and s/b"


# ---- a toy "GAN" with the extensions a GAN run has ----

class ToyG(minigan.nn.Module):
    """z (N, 2) -> images (N, 1, 2, 2)."""

    def __init__(self):
        super().__init__()
        self.linear = minigan.nn.Linear(2, 4)

    def forward(self, z):
        return self.linear(z).tanh().reshape(z.shape[0], 1, 2, 2)


class Toy:
    """A linear G and D with one Adam: a cheap stand-in for the trainer's tests, with the
    extensions examples/cli.py gives a GAN run. ``step`` replaces the toy's own step."""

    def __init__(self, out, total=6, step=None, sample_every=200, checkpoint_every=500,
                 log_every=50, keep=3, time_limit=None, arch=None, device="cpu"):
        minigan.manual_seed(0)
        self.G, self.D = ToyG().to(device), minigan.nn.Linear(4, 1).to(device)
        self.opt = minigan.optim.Adam(list(self.G.parameters()) + list(self.D.parameters()))
        images = data.synthetic_images(12, 28, 1)[:, :, :2, :2]        # (12, 1, 2, 2)
        self.batches = BatchStream(images, 4, name="toy", device=device)
        self.device = device
        self.log = io.StringIO()
        out = str(out)
        self.trainer = trainer = training.Trainer(step or self.step, total,
                                                  epoch=lambda: self.batches.epoch + 1)
        metrics = trainer.extend(training.MetricsCSV(os.path.join(out, "metrics.csv"),
                                                     ["loss_D"]))
        trainer.extend(training.NonFiniteGuard())
        if time_limit is not None:
            trainer.extend(training.TimeLimit(time_limit))
        samples = trainer.extend(training.SampleGrid(out, self.G, minigan.randn(4, 2,
                                                                                device=device),
                                                     real=images[:4]),
                                 training.Interval(sample_every))
        trainer.extend(training.LossPlot(metrics, os.path.join(out, "losses.png"), ["loss_D"]),
                       training.Interval(sample_every))
        self.checkpoint = trainer.extend(training.Checkpoint(
            out, {"models": {"G": self.G, "D": self.D}, "optimizers": {"opt": self.opt},
                  "data": self.batches, "fixed_z": samples}, arch or {"model": "toy"},
            {"steps": total}, keep=keep), training.Interval(checkpoint_every))
        trainer.extend(training.ProgressLine(log_every, stream=self.log))

    def step(self, i):
        x = next(self.batches).reshape(4, 4)
        fake = self.G(minigan.randn(4, 2, device=self.device)).reshape(4, 4)
        loss = ((self.D(x) - self.D(fake)) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss_D": loss.item()}

    def poisoned_before(self, at):
        """The toy's step, after filling every weight with NaN before step ``at``."""
        def step(i):
            if i == at:
                for model in (self.G, self.D):
                    for p in model.parameters():
                        p.data[...] = np.nan
            return self.step(i)
        return step


def test_a_toy_run_writes_every_output_and_resumes_exactly(tmp_path):
    one = Toy(tmp_path / "one", sample_every=2, checkpoint_every=2, keep=2)
    one.trainer.run()
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["checkpoint-0000004.npz", "checkpoint-0000006.npz", "losses.png",
                     "metrics.csv", "real_samples.png", "samples_000002.png",
                     "samples_000004.png", "samples_000006.png"]
    last = one.log.getvalue().splitlines()[-1]
    assert last.startswith("done: steps 1-6") and last.endswith(
        f"samples_000006.png, losses.png and checkpoint-0000006.npz in {tmp_path / 'one'}")

    two = Toy(tmp_path / "two", total=3)
    two.trainer.run()
    three = Toy(tmp_path / "two", total=6)
    three.checkpoint.resume(three.trainer, training.load_checkpoint(
        str(tmp_path / "two" / "checkpoint-0000003.npz")))
    assert three.trainer.step == 3
    three.trainer.run()
    for a, b in zip(one.opt.param_groups[0]["params"], three.opt.param_groups[0]["params"]):
        assert np.array_equal(a.numpy(), b.numpy())
    rows = [line.split(",")[:2] for line in (tmp_path / "two" / "metrics.csv").read_text()
            .splitlines()]
    assert rows == [line.split(",")[:2] for line in (tmp_path / "one" / "metrics.csv")
                    .read_text().splitlines()]


def test_a_gpu_run_resumes_exactly(gpu, tmp_path):
    """On the GPU (emulated where there is none): checkpoints of device arrays, the
    BatchStream's place and the grid's noise. 4 steps equal 2, a resume and 2 more, bit for
    bit (examples/cli.py's whole run on the GPU: the slow test_train_dcgan.py::
    test_a_gpu_run_resumes_exactly_and_follows_the_cpu)."""
    one = Toy(tmp_path / "one", total=4, device=gpu)
    one.trainer.run()
    Toy(tmp_path / "two", total=2, device=gpu).trainer.run()
    two = Toy(tmp_path / "two", total=4, device=gpu)
    two.checkpoint.resume(two.trainer, training.load_checkpoint(
        str(tmp_path / "two" / "checkpoint-0000002.npz")))
    two.trainer.run()
    a, b = (leaves(minigan.load(tmp_path / name / "checkpoint-0000004.npz"))
            for name in ("one", "two"))
    assert a.keys() == b.keys() and "/fixed_z" in a and "/data/position" in a
    for name in a:
        if name != "/elapsed":
            assert np.array_equal(a[name], b[name]), name


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    toy = Toy(tmp_path, total=1)
    toy.trainer.run()
    ckpt = training.load_checkpoint(str(tmp_path / "checkpoint-0000001.npz"))
    other = Toy(tmp_path, arch={"model": "toy", "width": 9})
    with pytest.raises(training.CheckpointMismatch, match="holds toy"):
        other.checkpoint.resume(other.trainer, ckpt)


def test_nan_guard_names_the_step_and_keeps_the_last_checkpoint(tmp_path):
    toy = Toy(tmp_path, checkpoint_every=2)
    toy.trainer.train_step = toy.poisoned_before(4)
    with pytest.raises(training.NonFiniteLoss) as info:
        toy.trainer.run()
    text = str(info.value)
    assert text.startswith("step 4: loss_D = nan") and "checkpoint-0000002.npz" in text
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-0000002.npz"]
    # the losses plot is drawn when the guard stops the run, up to the NaN's row
    assert (tmp_path / "losses.png").exists()
    assert (tmp_path / "metrics.csv").read_text().splitlines()[-1].startswith("4,nan,")


class Unread:
    """A step's value left on its device: it notes the step at which the loop read it."""

    def __init__(self, value, reads, step):
        self.value, self.reads, self.step = value, reads, step

    def item(self):
        self.reads.append(self.step)
        return self.value


def test_the_trainer_reads_a_steps_values_every_log_every_steps(tmp_path):
    # a GPU step leaves its values on the device; reading one waits for the GPU
    reads, seen = [], []

    def step(i):
        seen.append((i, list(reads)))
        return {"loss_D": Unread(float(i), reads, i)}
    toy = Toy(tmp_path, total=12, step=step, log_every=5, checkpoint_every=10, sample_every=0)
    toy.trainer.run()
    # read at the first step, then every 5 steps, at the checkpoint (10) and at the end
    assert reads == list(range(1, 13))
    assert [(i, r[-1] if r else None) for i, r in seen if i in (2, 6, 11, 12)] == [
        (2, 1), (6, 5), (11, 10), (12, 10)]
    rows = (tmp_path / "metrics.csv").read_text().splitlines()[1:]
    assert [row.split(",")[:2] for row in rows] == [[str(i), str(i)] for i in range(1, 13)]


def test_nan_guard_reads_late_but_before_any_checkpoint(tmp_path):
    def step(i):
        return {"loss_D": Unread(np.nan if i == 7 else 1.0, [], i)}
    toy = Toy(tmp_path, total=12, step=step, log_every=5, checkpoint_every=4, sample_every=0)
    with pytest.raises(training.NonFiniteLoss, match="step 7: loss_D = nan"):
        toy.trainer.run()   # read at step 8, before its checkpoint
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-0000004.npz"]


def test_sigint_finishes_the_step_and_writes_a_checkpoint(tmp_path):
    def step(i):
        if i == 3:
            os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C in the middle of step 3
        return toy.step(i)

    toy = Toy(tmp_path, total=100, step=step)
    before = signal.getsignal(signal.SIGINT)   # Python's default; SIG_IGN in a background job
    with pytest.raises(training.Interrupted, match="SIGINT after step 3") as info:
        toy.trainer.run()
    assert (tmp_path / "checkpoint-0000003.npz").exists()
    assert str(info.value).endswith(f"checkpoint-0000003.npz in {tmp_path}")
    assert signal.getsignal(signal.SIGINT) is before   # the handler it found, put back


def test_time_limit_stops_cleanly(tmp_path):
    toy = Toy(tmp_path, total=100, time_limit=0)
    toy.trainer.run()
    assert toy.trainer.step == 1 and (tmp_path / "checkpoint-0000001.npz").exists()
    assert (tmp_path / "samples_000001.png").exists()
    assert "stopped at the time limit (0:00) after step 1 of 100" in toy.log.getvalue()
    assert toy.trainer.stop_reason == "the time limit (0:00)"
