"""Datasets as NumPy arrays: the IDX reader for MNIST-like files, where to find them, batching.

Nothing here downloads. ``find_dataset`` looks in a fixed list of folders;
Debian's ``dataset-fashion-mnist`` package fills one of them
(``/usr/share/datasets/fashion-mnist``).
"""
import gzip
import os
import zlib

import numpy as np

# IDX type codes (byte 3 of the magic number) -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"

DATASETS = ("mnist", "fashion-mnist")
SPLITS = {"train": "train", "test": "t10k", "t10k": "t10k"}
SYSTEM_DIR = "/usr/share/datasets"  # where Debian's dataset-* packages put their files


def read_idx(path):
    """Read an IDX file (raw or gzipped) into a NumPy array of its own dtype and shape.

    Layout: magic ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32 sizes,
    then the data, big-endian, C order. MNIST images are type 0x08 (uint8), ndim 3:
    magic 0x00000803; labels are 0x00000801.
    """
    path = os.fspath(path)

    def fail(what):
        raise ValueError(f"read_idx: {path}: {what}")

    with open(path, "rb") as f:
        raw = f.read()
    # NOTE: detect gzip by its magic bytes, not the name: files get renamed and unpacked.
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            fail(f"corrupt gzip data ({e})")

    if len(raw) < 4:
        fail(f"file has {len(raw)} bytes, too short for the 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    zeros, code, ndim = raw[:2], raw[2], raw[3]
    if zeros != b"\x00\x00":
        fail(f"bad magic number 0x{magic:08x}: must start with two zero bytes "
             "(not an IDX file?)")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        fail(f"bad magic number 0x{magic:08x}: unknown data type code 0x{code:02x} "
             f"(known: {known})")
    if ndim == 0:
        fail(f"bad magic number 0x{magic:08x}: zero dimensions")

    header = 4 + 4 * ndim
    if len(raw) < header:
        fail(f"header says {ndim} dimensions ({header} header bytes) "
             f"but the file has {len(raw)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        dims = "x".join(str(s) for s in shape)
        fail(f"header says {dims} = {expected} bytes but the file has {got}")

    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz`` (tests, tools)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"write_idx: IDX has no type code for dtype {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[codes[dtype]]).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)


# ---- finding files ----

def _file_names(split):
    """The IDX file names of one split, without the ``.gz``: (images, labels)."""
    prefix = SPLITS[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _idx_file(folder, name):
    """``folder/name.gz``, ``folder/name``, or the ``train-images.idx3-ubyte`` spelling."""
    for candidate in (name + ".gz", name, name.replace("-idx", ".idx")):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def search_path(name, data_dir=None):
    """The folders ``find_dataset`` looks in, in order."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    folders = []
    if data_dir is not None:
        folders.append(os.fspath(data_dir))
    env = os.environ.get("MINIGAN_DATA")
    if env:
        folders += [env, os.path.join(env, name)]
    folders.append(os.path.join(os.path.expanduser("~"), ".cache", "minigan", name))
    folders.append(os.path.join(SYSTEM_DIR, name))
    return folders


def find_dataset(name, data_dir=None, split="train"):
    """The first folder of ``search_path(name, data_dir)`` that holds the split's images and labels.

    Returns None when no folder has them.
    """
    images, labels = _file_names(split)
    for folder in search_path(name, data_dir):
        if _idx_file(folder, images) and _idx_file(folder, labels):
            return folder
    return None


def load_mnist_like(name, data_dir=None, split="train"):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of MNIST or Fashion-MNIST.

    ``split`` is "train" (60000 images) or "test" (10000, the "t10k" files).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
    folder = find_dataset(name, data_dir, split)
    images_name, labels_name = _file_names(split)
    if folder is None:
        searched = "\n  ".join(search_path(name, data_dir))
        raise FileNotFoundError(
            f"{name} ({split}): no folder holds {images_name}[.gz] and {labels_name}[.gz]. "
            f"Searched:\n  {searched}\n"
            f"Put the files in one of these, or pass data_dir or set $MINIGAN_DATA."
            + (" (Debian: apt-get install dataset-fashion-mnist.)"
               if name == "fashion-mnist" else ""))
    images = read_idx(_idx_file(folder, images_name))
    labels = read_idx(_idx_file(folder, labels_name))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{name}: images must be uint8 (N, H, W), got {images.dtype} "
                         f"{images.shape} in {folder}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"{name}: {images.shape[0]} images but labels of shape "
                         f"{labels.shape} in {folder}")
    return images, labels


# ---- arrays for training ----

def to_unit_range(images):
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [-1, 1], the range of tanh."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4:
        raise ValueError(f"to_unit_range: expected (N, H, W) or (N, C, H, W), got {images.shape}")
    return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def batches(array, batch_size, rng, drop_last=True):
    """One epoch of ``array`` in shuffled batches along axis 0.

    ``rng`` is a ``numpy.random.Generator``; the same seed gives the same batches.
    With ``drop_last`` the final short batch is skipped, so every batch has ``batch_size`` rows.
    """
    n = len(array)
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield array[order[start:start + batch_size]]
