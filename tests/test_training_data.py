"""The data a training run is fed: downloads against a local HTTP server, the synthetic
set, image folders, BatchStream (moved from test_training.py, which tests the trainer)."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import threading

import numpy as np
import pytest
from PIL import Image

from minigan import data
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


# ---- a source's test split: the FID's reference ----

def test_a_source_says_whether_it_has_a_test_split(tmp_path):
    """``fid_reference``: the test split of a source that declares one (``test_files``),
    found beside the training files, as the run's images; else the training images."""
    from minigan.training import fid_reference
    assert data.SOURCES["mnist"].test_files == ("t10k-images-idx3-ubyte",
                                                "t10k-labels-idx1-ubyte")
    assert not any(data.SOURCES[name].test_files for name in ("auto", "folder", "synthetic"))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.full((5, 28, 28), 7, np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    run = data.ImageSet("fashion-mnist", np.zeros((3, 1, 64, 64), np.uint8), str(tmp_path))
    images, described = fid_reference(run)
    assert images.shape == (5, 1, 64, 64) and (images == 7).all()
    assert described == "the 5 fashion-mnist test images"
    own = np.zeros((3, 3, 64, 64), np.uint8)
    images, described = fid_reference(data.ImageSet("folder", own, str(tmp_path)))
    assert images is own and described == "the 3 folder training images"
    with pytest.raises(DatasetError, match="^the synthetic set has no test split$"):
        data.SOURCES["synthetic"].load_test(None, 28)
