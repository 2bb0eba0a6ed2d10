"""minigan.training (the loop, metrics, progress, checkpoints, guards) and the data it is fed:
downloads against a local HTTP server, the synthetic set, image folders, BatchStream."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import signal
import threading

import numpy as np
import pytest
from PIL import Image

import minigan
from minigan import data, training
from minigan.data import BatchStream, DatasetError, DownloadError, write_idx


# ---- a local mirror: http.server on 127.0.0.1 in a thread ----

@contextlib.contextmanager
def http_server(root):
    """Serve the folder ``root`` on 127.0.0.1 (a free port) while the block runs."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def idx_gz(array):
    """The bytes of ``array`` as a gzipped IDX file."""
    buffer = io.BytesIO()
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:
        f.write(header + array.tobytes())
    return buffer.getvalue()


@pytest.fixture
def mirror(tmp_path):
    """Two mirrors of a generated MNIST: ``bad/`` has a corrupted image file, ``good/`` not."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    files = {"train-images-idx3-ubyte.gz": idx_gz(images),
             "train-labels-idx1-ubyte.gz": idx_gz(rng.integers(0, 10, 20, dtype=np.uint8))}
    for name in ("good", "bad"):
        (tmp_path / "www" / name / "mnist").mkdir(parents=True)
        for file, raw in files.items():
            (tmp_path / "www" / name / "mnist" / file).write_bytes(raw)
    corrupt = bytearray(files["train-images-idx3-ubyte.gz"])
    corrupt[100] ^= 0xFF
    (tmp_path / "www" / "bad" / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(corrupt)
    sums = {file: hashlib.sha256(raw).hexdigest() for file, raw in files.items()}
    with http_server(tmp_path / "www") as url:
        yield {"url": url, "files": files, "sha256": sums, "images": images}


def no_partial_files(folder):
    return not [p for p in folder.iterdir() if p.name.startswith(".part-")]


def test_download_skips_a_corrupt_mirror(tmp_path, mirror):
    cache = tmp_path / "cache"
    logged = []
    folder = data.download_dataset(
        "mnist", folder=str(cache), checksums=mirror["sha256"], log=logged.append,
        mirrors=[mirror["url"] + "/bad/mnist/", mirror["url"] + "/good/mnist"])
    assert folder == str(cache)
    for file, raw in mirror["files"].items():
        assert (cache / file).read_bytes() == raw
    assert no_partial_files(cache)
    # The images were tried on the bad mirror first, then the good one; the labels once.
    assert [u.split("/")[-3] for u in logged] == ["bad", "good", "bad"]
    np.testing.assert_array_equal(data.read_idx(cache / "train-images-idx3-ubyte.gz"),
                                  mirror["images"])


def test_download_fails_cleanly_when_no_mirror_has_the_file(tmp_path, mirror):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        data.download_dataset("mnist", folder=str(cache), checksums=mirror["sha256"],
                              mirrors=[mirror["url"] + "/bad/mnist/", mirror["url"] + "/nope/"])
    text = str(info.value)
    assert "train-images-idx3-ubyte.gz" in text and "SHA-256" in text and "404" in text
    assert "\n" not in text
    assert not (cache / "train-images-idx3-ubyte.gz").exists() and no_partial_files(cache)


def test_missing_mnist_is_downloaded_into_the_cache(tmp_path, monkeypatch, mirror):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setattr(data.mnist, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("MINIGAN_MIRRORS", mirror["url"] + "/bad/{name}/ "
                       + mirror["url"] + "/good/{name}/")
    monkeypatch.setitem(data.SHA256, "mnist", mirror["sha256"])
    got = data.load_image_dataset("auto")
    cache = tmp_path / "home" / ".cache" / "minigan" / "mnist"
    assert got.name == "mnist" and got.source == str(cache)
    np.testing.assert_array_equal(got.images[:, 0], mirror["images"])
    # Found on disk the second time: no server needed.
    assert data.find_dataset("mnist") == str(cache)


def test_auto_falls_back_to_synthetic_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setattr(data.mnist, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("MINIGAN_MIRRORS", "http://127.0.0.1:9/")   # the discard port: refused
    logged = []
    got = data.load_image_dataset("auto", limit=10, log=logged.append)
    assert got.name == "synthetic" and got.images.shape == (10, 1, 28, 28)
    assert "using the synthetic set" in logged[-1]
    with pytest.raises(DatasetError, match="download failed"):
        data.load_image_dataset("fashion-mnist")


def test_data_dir_must_hold_the_files(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        data.load_image_dataset("mnist", tmp_path / "missing")
    with pytest.raises(DatasetError, match="holds no train-images-idx3-ubyte"):
        data.load_image_dataset("auto", tmp_path)
    fashion = tmp_path / "my-fashion"
    fashion.mkdir()
    write_idx(fashion / "train-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(fashion / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    got = data.load_image_dataset("auto", fashion, image_size=64)
    assert got.name == "fashion-mnist" and got.images.shape == (3, 1, 64, 64)


# ---- the synthetic set and image folders ----

@pytest.mark.parametrize("size, channels", [(28, 1), (64, 3)])
def test_synthetic_images(size, channels):
    a = data.synthetic_images(40, size, channels, seed=1)
    assert a.dtype == np.uint8 and a.shape == (40, channels, size, size)
    np.testing.assert_array_equal(a, data.synthetic_images(40, size, channels, seed=1))
    assert not np.array_equal(a, data.synthetic_images(40, size, channels, seed=2))
    # A shape on a darker background in every image, anti-aliased edges in between.
    assert (a.reshape(40, -1).max(1) >= 150).all()
    assert (a.reshape(40, -1).min(1) <= 80).all()
    assert len(np.unique(a)) > 50
    got = data.load_image_dataset("synthetic", image_size=size, limit=7)
    assert got.images.shape == (7, channels, size, size) and got.source == "built in"


def test_image_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 256, (90, 30), dtype=np.uint8)).save(tmp_path / "sub/b.jpg")
    (tmp_path / "c.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    images, skipped = data.load_image_folder(tmp_path, 64, 3)
    assert images.shape == (2, 3, 64, 64) and images.dtype == np.uint8 and skipped == 1
    gray, _ = data.load_image_folder(tmp_path, 28, 1)
    assert gray.shape == (2, 1, 28, 28)
    # Center crop: a wide picture keeps its middle columns.
    wide = np.zeros((20, 60), np.uint8)
    wide[:, 20:40] = 255
    Image.fromarray(wide).save(tmp_path / "sub" / "wide.png")
    crop, _ = data.load_image_folder(tmp_path / "sub", 20, 1)
    assert crop[1].min() == 255
    assert data.load_image_dataset("folder", tmp_path, 64).images.shape == (3, 3, 64, 64)
    with pytest.raises(DatasetError, match="no readable images"):
        data.load_image_dataset("folder", tmp_path / "sub" / "..", 64, limit=0)


# ---- BatchStream ----

def test_batch_stream_epochs_range_and_resume():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1) * 25
    stream = BatchStream(images, 3, seed=5, name="toy")
    batches = [stream.next() for _ in range(7)]
    assert all(b.dtype == np.float32 and b.shape == (3, 1, 1, 1) for b in batches)
    assert min(b.numpy().min() for b in batches) >= -1 and max(
        b.numpy().max() for b in batches) <= 1
    # 3 batches an epoch (the short one dropped), each epoch without repeats.
    assert stream.epoch == 2 and stream.position == 1
    first = np.concatenate([b.numpy().ravel() for b in batches[:3]])
    assert len(set(first)) == 9
    # A stream restored from the state continues with the same batches.
    again = BatchStream(images, 3, seed=0, name="toy")
    again.load_state_dict(stream.state_dict())
    more = [stream.next().numpy() for _ in range(4)]
    assert all(np.array_equal(a, again.next().numpy()) for a in more)
    with pytest.raises(ValueError, match="batches of 3"):
        BatchStream(images, 4, name="toy").load_state_dict(stream.state_dict())
    with pytest.raises(ValueError, match="10 images of toy"):
        BatchStream(images[:8], 3, name="toy").load_state_dict(stream.state_dict())


def test_batch_stream_on_the_gpu_gives_the_cpu_batches(gpu):
    # the gather kernel (kernels/batch.cu) against BatchStream's NumPy path, past an epoch
    images = np.random.default_rng(3).integers(0, 256, (10, 3, 5, 7), dtype=np.uint8)
    images[0, 0, 0, :2] = (0, 255)                          # the ends of the range: -1 and 1
    cpu, on_gpu = (BatchStream(images, 3, seed=5, device=d, name="toy") for d in ("cpu", gpu))
    for _ in range(7):
        expected, got = cpu.next().numpy(), on_gpu.next().cpu().numpy()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
    assert on_gpu.state_dict() == cpu.state_dict()


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

class ToyG(minigan.nn.Module):
    """z (N, 2) -> images (N, 1, 2, 2)."""

    def __init__(self):
        super().__init__()
        self.linear = minigan.nn.Linear(2, 4)

    def forward(self, z):
        return self.linear(z).tanh().reshape(z.shape[0], 1, 2, 2)


class Toy:
    """A linear G and D with one Adam: a cheap stand-in for the loop's tests."""

    def __init__(self, out, total=6, **kwargs):
        minigan.manual_seed(0)
        self.G, self.D = ToyG(), minigan.nn.Linear(4, 1)
        self.opt = minigan.optim.Adam(list(self.G.parameters()) + list(self.D.parameters()))
        images = data.synthetic_images(12, 28, 1)[:, :, :2, :2]        # (12, 1, 2, 2)
        self.batches = BatchStream(images, 4, name="toy")
        self.run = training.TrainingRun(
            str(out), {"G": self.G, "D": self.D}, {"opt": self.opt}, self.batches, total,
            {"model": "toy"}, {"steps": total}, minigan.randn(4, 2), columns=["loss_D"],
            **kwargs)

    def step(self, i):
        x = next(self.batches).reshape(4, 4)
        fake = self.G(minigan.randn(4, 2)).reshape(4, 4)
        loss = ((self.D(x) - self.D(fake)) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss_D": loss.item()}


def test_loop_writes_every_output_and_resumes_exactly(tmp_path):
    one = Toy(tmp_path / "one", sample_every=2, checkpoint_every=2, keep=2)
    log = io.StringIO()
    one.run.run(one.step, stream=log)
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["checkpoint-0000004.npz", "checkpoint-0000006.npz", "losses.png",
                     "metrics.csv", "real_samples.png", "samples_000002.png",
                     "samples_000004.png", "samples_000006.png"]
    assert log.getvalue().splitlines()[-1].startswith("done: steps 1-6")

    two = Toy(tmp_path / "two", total=3)
    two.run.run(two.step, stream=io.StringIO())
    three = Toy(tmp_path / "two", total=6)
    three.run.restore(training.load_checkpoint(str(tmp_path / "two" / "checkpoint-0000003.npz")))
    assert three.run.step == 3
    three.run.run(three.step, stream=io.StringIO())
    for a, b in zip(one.opt.param_groups[0]["params"], three.opt.param_groups[0]["params"]):
        assert np.array_equal(a.numpy(), b.numpy())
    rows = [line.split(",")[:2] for line in (tmp_path / "two" / "metrics.csv").read_text()
            .splitlines()]
    assert rows == [line.split(",")[:2] for line in (tmp_path / "one" / "metrics.csv")
                    .read_text().splitlines()]


def test_loop_refuses_a_checkpoint_of_another_model(tmp_path):
    toy = Toy(tmp_path, total=1)
    toy.run.run(toy.step, stream=io.StringIO())
    ckpt = training.load_checkpoint(str(tmp_path / "checkpoint-0000001.npz"))
    other = Toy(tmp_path)
    other.run.arch = {"model": "toy", "width": 9}
    with pytest.raises(training.CheckpointMismatch, match="holds toy"):
        other.run.restore(ckpt)


class PoisonBefore:
    """A callback that fills every weight with NaN before step ``at``: that step's loss is NaN."""

    def __init__(self, at):
        self.at = at

    def before_step(self, run, step):
        if step == self.at:
            for model in run.models.values():
                for p in model.parameters():
                    p.data[...] = np.nan


def test_nan_guard_names_the_step_and_keeps_the_last_checkpoint(tmp_path):
    toy = Toy(tmp_path, checkpoint_every=2, callbacks=[PoisonBefore(4)])
    with pytest.raises(training.NonFiniteLoss) as info:
        toy.run.run(toy.step, stream=io.StringIO())
    text = str(info.value)
    assert text.startswith("step 4: loss_D = nan") and "checkpoint-0000002.npz" in text
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-0000002.npz"]


class Unread:
    """A step's value left on its device: it notes the step at which the loop read it."""

    def __init__(self, value, reads, step):
        self.value, self.reads, self.step = value, reads, step

    def item(self):
        self.reads.append(self.step)
        return self.value


def test_the_loop_reads_a_steps_values_every_log_every_steps(tmp_path):
    # a GPU step leaves its values on the device; reading one waits for the GPU
    toy = Toy(tmp_path, total=12, log_every=5, checkpoint_every=10, sample_every=0)
    reads, seen = [], []

    def step(i):
        seen.append((i, list(reads)))
        return {"loss_D": Unread(float(i), reads, i)}
    toy.run.run(step, stream=io.StringIO())
    # read at the first step, then every 5 steps, at the checkpoint (10) and at the end
    assert reads == list(range(1, 13))
    assert [(i, r[-1] if r else None) for i, r in seen if i in (2, 6, 11, 12)] == [
        (2, 1), (6, 5), (11, 10), (12, 10)]
    rows = (tmp_path / "metrics.csv").read_text().splitlines()[1:]
    assert [row.split(",")[:2] for row in rows] == [[str(i), str(i)] for i in range(1, 13)]


def test_nan_guard_reads_late_but_before_any_checkpoint(tmp_path):
    toy = Toy(tmp_path, total=12, log_every=5, checkpoint_every=4, sample_every=0)

    def step(i):
        return {"loss_D": Unread(np.nan if i == 7 else 1.0, [], i)}
    with pytest.raises(training.NonFiniteLoss, match="step 7: loss_D = nan"):
        toy.run.run(step, stream=io.StringIO())   # read at step 8, before its checkpoint
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-0000004.npz"]


def test_sigint_finishes_the_step_and_writes_a_checkpoint(tmp_path):
    toy = Toy(tmp_path, total=100)

    def step(i):
        if i == 3:
            os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C in the middle of step 3
        return toy.step(i)

    with pytest.raises(training.Interrupted, match="SIGINT after step 3") as info:
        toy.run.run(step, stream=io.StringIO())
    assert (tmp_path / "checkpoint-0000003.npz").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_time_limit_stops_cleanly(tmp_path):
    toy = Toy(tmp_path, total=100, time_limit=0)
    log = io.StringIO()
    toy.run.run(toy.step, stream=log)
    assert toy.run.step == 1 and (tmp_path / "checkpoint-0000001.npz").exists()
    assert (tmp_path / "samples_000001.png").exists()
    assert "stopped at the time limit" in log.getvalue()
