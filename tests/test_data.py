"""minigan.data: the IDX reader, where datasets are looked for, and arrays for training."""
import gzip

import numpy as np
import pytest

from minigan import data
from minigan.data import (SOURCES, DatasetError, DatasetFormatError, batches, default_channels,
                          find_dataset, load_image_dataset, load_mnist_like, read_idx,
                          to_tanh_range, to_uint8, write_idx)


def idx_bytes(code, shape, body):
    """A hand-made IDX file: magic 00 00 <code> <ndim>, big-endian sizes, then ``body``."""
    header = bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()
    return header + body


def write(path, raw, gz=False):
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


# ---- read_idx ----

@pytest.mark.parametrize("gz", [False, True])
def test_read_uint8_images_and_labels(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    # Written by hand, so the test does not lean on write_idx.
    write(tmp_path / "img", idx_bytes(0x08, images.shape, images.tobytes()), gz)
    write(tmp_path / "lbl", idx_bytes(0x08, labels.shape, labels.tobytes()), gz)
    got = read_idx(tmp_path / "img")
    assert got.dtype == np.uint8 and got.shape == (5, 28, 28)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx(tmp_path / "lbl"), labels)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    labels = np.array([3, 1, 4], dtype=np.uint8)
    raw = idx_bytes(0x08, labels.shape, labels.tobytes())
    write(tmp_path / "labels.gz", raw)                  # raw bytes behind a .gz name
    write(tmp_path / "labels", raw, gz=True)            # gzip behind a plain name
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.gz"), labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)


@pytest.mark.parametrize("code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
def test_other_dtypes_are_big_endian(tmp_path, code, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 12).astype(dtype)
    write(tmp_path / "a", idx_bytes(code, a.shape, a.astype(np.dtype(dtype).newbyteorder(">"))
                                    .tobytes()), gz=True)
    got = read_idx(tmp_path / "a")
    assert got.dtype == dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_write_idx_round_trip(tmp_path, name):
    a = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    write_idx(tmp_path / name, a)
    np.testing.assert_array_equal(read_idx(tmp_path / name), a)


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x02\x08\x01" + b"\x00" * 8, "bad magic number 0x01020801: must start with two zero"),
    (idx_bytes(0x07, (2,), b"ab"), "unknown data type code 0x07"),
    (idx_bytes(0x08, (60, 28, 28), b"\x00" * 1234),
     "header says 60x28x28 = 47040 bytes but the file has 1234"),
    (idx_bytes(0x08, (2,), b"abc"), "header says 2 = 2 bytes but the file has 3"),
    (idx_bytes(0x0B, (3,), b"\x00" * 3), "header says 3 = 6 bytes but the file has 3"),
    (b"\x00\x00\x08\x03\x00\x00", "header says 3 dimensions (16 header bytes)"),
    (b"\x00\x00", "too short for the 4-byte magic number"),
    (b"\x00\x00\x08\x00", "zero dimensions"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_corrupt_files_raise_one_line_value_error(tmp_path, raw, message, gz):
    path = write(tmp_path / "train-images-idx3-ubyte.gz", raw, gz)
    with pytest.raises(DatasetFormatError) as info:
        read_idx(path)
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ValueError)
    text = str(info.value)
    assert text.startswith(f"read_idx: {path}: ") and message in text
    assert "\n" not in text


def test_truncated_gzip_stream(tmp_path):
    raw = gzip.compress(idx_bytes(0x08, (100,), bytes(100)))
    path = write(tmp_path / "t.gz", raw[:len(raw) // 2])
    with pytest.raises(DatasetFormatError, match="corrupt gzip data"):
        read_idx(path)


# ---- find_dataset and load_mnist_like ----

def make_dataset(folder, n=10, gz=True, split="train"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    ext = ".gz" if gz else ""
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    write_idx(folder / f"{split}-images-idx3-ubyte{ext}", images)
    write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Every search folder under tmp_path, all empty; $HOME and the system folder patched."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(data.mnist, "SYSTEM_DIR", str(tmp_path / "system"))
    return {
        "data_dir": tmp_path / "given",
        "env": tmp_path / "env",
        "env/name": tmp_path / "env" / "mnist",
        "home": tmp_path / "home" / ".cache" / "minigan" / "mnist",
        "system": tmp_path / "system" / "mnist",
    }


def test_search_order(places):
    order = ["data_dir", "env", "env/name", "home", "system"]
    assert find_dataset("mnist", places["data_dir"]) is None
    # Fill the folders from last to first: each new one must win.
    for key in reversed(order):
        make_dataset(places[key])
        assert find_dataset("mnist", places["data_dir"]) == str(places[key])
    assert data.search_path("mnist", places["data_dir"]) == [str(places[k]) for k in order]


def test_env_unset_and_no_data_dir(places, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA")
    make_dataset(places["system"])
    assert find_dataset("mnist") == str(places["system"])
    make_dataset(places["home"])
    assert find_dataset("mnist") == str(places["home"])


def test_raw_names_and_incomplete_folders(places):
    make_dataset(places["env/name"], gz=False)
    assert find_dataset("mnist") == str(places["env/name"])
    # A folder with images but no labels is passed over.
    make_dataset(places["data_dir"])
    (places["data_dir"] / "train-labels-idx1-ubyte.gz").unlink()
    assert find_dataset("mnist", places["data_dir"]) == str(places["env/name"])
    # Some archives spell the names train-images.idx3-ubyte.
    write_idx(places["data_dir"] / "train-labels.idx1-ubyte", np.zeros(10, np.uint8))
    assert find_dataset("mnist", places["data_dir"]) == str(places["data_dir"])


def test_load_mnist_like(places):
    images, labels = make_dataset(places["data_dir"], n=7)
    make_dataset(places["data_dir"], n=3, split="t10k")
    got_images, got_labels = load_mnist_like("mnist", places["data_dir"])
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert load_mnist_like("mnist", places["data_dir"], split="test")[0].shape == (3, 28, 28)


def test_malformed_sets_are_format_errors(places):
    make_dataset(places["data_dir"], n=7)
    write_idx(places["data_dir"] / "train-labels-idx1-ubyte.gz", np.zeros(6, np.uint8))
    with pytest.raises(DatasetFormatError, match="7 images but labels of shape"):
        load_mnist_like("mnist", places["data_dir"])
    write_idx(places["data_dir"] / "train-images-idx3-ubyte.gz", np.zeros((6, 28, 28), np.int16))
    with pytest.raises(DatasetFormatError, match="images must be uint8"):
        load_mnist_like("mnist", places["data_dir"])
    (places["data_dir"] / "train-images-idx3-ubyte.gz").write_bytes(b"\x00\x00\x08")
    with pytest.raises(DatasetFormatError, match="read_idx: .*train-images-idx3-ubyte.gz"):
        load_image_dataset("mnist", places["data_dir"])


def test_load_image_dataset_errors_name_no_flag_and_no_keyword(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    for args, message in [(("folder",), "a folder of images was asked for, but no folder"),
                          (("mnist", tmp_path / "missing"),
                           "^data folder .*missing does not exist$"),
                          (("mnist", tmp_path / "a-file"), "^[^ ]*a-file is not a folder$"),
                          (("auto", tmp_path), "holds no train-images-idx3-ubyte"),
                          (("mnist", tmp_path), "holds no train-images-idx3-ubyte")]:
        with pytest.raises(DatasetError, match=message) as info:
            load_image_dataset(*args)
        assert_names_no_flag_and_no_keyword(str(info.value))


def assert_names_no_flag_and_no_keyword(text):
    assert "\n" not in text
    for name in ("--", "data_dir", "name=", "=None", "image_size", "channels="):
        assert name not in text, (name, text)


def test_not_found_and_no_download_names_no_keyword(places):
    with pytest.raises(DatasetError, match="mnist is not in any of .*downloads are off") as info:
        load_image_dataset("mnist", download=False)
    assert_names_no_flag_and_no_keyword(str(info.value))


def test_missing_split_names_no_keyword(places):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_like("mnist")
    assert "data_dir" not in str(info.value) and "--" not in str(info.value)


# ---- the sources ----

def test_each_source_declares_its_name_files_and_channels():
    assert list(SOURCES) == ["auto", "mnist", "fashion-mnist", "folder", "synthetic"]
    for name, source in SOURCES.items():
        assert source.name == name and source.channels in ((1,), (1, 3))
    mnist, fashion, folder = SOURCES["mnist"], SOURCES["fashion-mnist"], SOURCES["folder"]
    assert mnist.files == fashion.files == ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    assert mnist.channels == fashion.channels == (1,)
    assert "*.png" in folder.files and SOURCES["synthetic"].files == ()
    assert folder.channels == SOURCES["synthetic"].channels == (1, 3)
    assert SOURCES["auto"].order == (mnist, fashion)
    assert SOURCES["auto"].fallback is SOURCES["synthetic"]


def test_channels_are_the_sources_or_as_asked(places, tmp_path):
    assert default_channels(28) == 1 and default_channels(64) == 3
    for size, asked, channels in [(64, None, 3), (28, None, 1), (64, 1, 1), (28, 3, 3)]:
        got = load_image_dataset("synthetic", image_size=size, limit=2, channels=asked)
        assert got.images.shape == (2, channels, size, size)
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "pictures").mkdir()
    Image.fromarray(np.full((9, 7, 3), 200, np.uint8)).save(tmp_path / "pictures" / "a.png")
    for size, asked, channels in [(64, None, 3), (28, None, 1), (64, 1, 1)]:
        got = load_image_dataset("folder", tmp_path / "pictures", size, channels=asked)
        assert got.images.shape == (1, channels, size, size)
    # An MNIST-like set has one channel at any size, and cannot give three.
    make_dataset(places["data_dir"], n=4)
    got = load_image_dataset("mnist", places["data_dir"], image_size=64)
    assert got.images.shape == (4, 1, 64, 64)
    with pytest.raises(DatasetError, match="mnist images have 1 channel, not 3"):
        load_image_dataset("mnist", places["data_dir"], channels=3)
    with pytest.raises(DatasetError, match="folder images have 1 or 3 channels, not 2"):
        load_image_dataset("folder", tmp_path / "pictures", channels=2)


def test_missing_dataset_lists_the_places_searched(places):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_like("mnist", places["data_dir"])
    for folder in places.values():
        assert str(folder) in str(info.value)


def test_unknown_names(places):
    with pytest.raises(ValueError, match="unknown dataset"):
        find_dataset("cifar10")
    with pytest.raises(ValueError, match="unknown split"):
        load_mnist_like("mnist", split="validation")


# ---- arrays for training ----

def test_to_tanh_range_keeps_the_shape():
    images = np.array([[[0, 255], [128, 64]]] * 3, dtype=np.uint8)   # (3, 2, 2)
    x = to_tanh_range(images[:, None])                              # (3, 1, 2, 2)
    assert x.dtype == np.float32 and x.shape == (3, 1, 2, 2)
    assert x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_allclose(x[0, 0], [[-1, 1], [128 / 127.5 - 1, 64 / 127.5 - 1]], atol=1e-6)
    assert to_tanh_range(np.zeros((2, 3, 4, 4), np.uint8)).shape == (2, 3, 4, 4)
    assert to_tanh_range(images).shape == (3, 2, 2)


def test_pixel_scalings_both_ways():
    p = np.arange(256, dtype=np.uint8)
    x = to_tanh_range(p)
    assert x.dtype == np.float32 and x[0] == -1.0 and x[-1] == 1.0
    np.testing.assert_allclose(x, p / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(to_uint8((x + 1) / 2), p)   # [0, 1] back to every level
    assert to_uint8(np.array([-0.5, 0.0, 0.2, 0.5, 1.0, 2.0])).tolist() == [0, 0, 51, 128, 255, 255]


def test_batches_cover_the_epoch_and_repeat_with_the_seed():
    a = np.arange(10)
    first = list(batches(a, 3, np.random.default_rng(1)))
    assert [len(b) for b in first] == [3, 3, 3]
    assert len(set(np.concatenate(first))) == 9
    again = list(batches(a, 3, np.random.default_rng(1)))
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    kept = list(batches(a, 3, np.random.default_rng(1), drop_last=False))
    assert [len(b) for b in kept] == [3, 3, 3, 1]
    assert sorted(np.concatenate(kept)) == list(range(10))
