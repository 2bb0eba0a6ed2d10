"""Datasets as NumPy arrays: the IDX reader for MNIST-like files, where to find them, batching.

``find_dataset`` looks in a fixed list of folders; Debian's
``dataset-fashion-mnist`` package fills one of them
(``/usr/share/datasets/fashion-mnist``). ``download_dataset`` fetches
MNIST or Fashion-MNIST from public mirrors into ``~/.cache/minigan/<name>``,
checking every file's SHA-256. ``load_image_dataset`` is the one entry point
of the training scripts: MNIST, Fashion-MNIST, a folder of images, or a
built-in synthetic set, as uint8 (N, C, H, W); ``BatchStream`` serves it in
shuffled batches, on the device, in [-1, 1], and can say where it is so a
resumed run sees the same batches.
"""
import collections
import concurrent.futures
import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np

from . import backend
from .tensor import Tensor

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


# ---- downloading ----

# Public mirrors, tried in order; a file is fetched as <base><file name>.
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                      "data/fashion/"],
}
# SHA-256 of the original gzipped files, as published (TFDS, torchvision's mirrors).
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}


class DownloadError(OSError):
    """No mirror delivered a file with the expected SHA-256."""


def cache_dir(name):
    """``~/.cache/minigan/<name>``: where downloads go (one of ``search_path``'s folders)."""
    return os.path.join(os.path.expanduser("~"), ".cache", "minigan", name)


def mirrors_for(name):
    """The base URLs to try for ``name``.

    ``$MINIGAN_MIRRORS`` (URLs separated by spaces or commas; ``{name}`` in one is
    replaced by the dataset's name) overrides the built-in list, for a local mirror.
    """
    env = os.environ.get("MINIGAN_MIRRORS")
    if env:
        return [u.replace("{name}", name) for u in env.replace(",", " ").split()]
    return list(MIRRORS[name])


def download_file(urls, dest, sha256, timeout=30, log=None):
    """Fetch the first of ``urls`` whose bytes have SHA-256 ``sha256`` to ``dest``; return ``dest``.

    Each try streams into a temporary file beside ``dest``; a file is renamed
    into place only when whole and its hash matches, else deleted and the next
    URL tried. Raises DownloadError naming every URL and what went wrong.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    failures = []
    for url in urls:
        if log:
            log(f"downloading {url}")
        fd, tmp = tempfile.mkstemp(prefix=".part-" + os.path.basename(dest) + "-", dir=folder)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
                while chunk := r.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
            got = digest.hexdigest()
            if got != sha256:
                failures.append(f"{url}: SHA-256 {got[:12]}... is not the expected "
                                f"{sha256[:12]}... (corrupt or changed file)")
                continue
            os.replace(tmp, dest)
            return dest
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
        except (urllib.error.URLError, OSError, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise DownloadError(f"could not download {os.path.basename(dest)}: " + "; ".join(failures))


def download_dataset(name, split="train", folder=None, mirrors=None, checksums=None, log=None,
                     timeout=30):
    """Download the images and labels of one split of ``name`` into ``folder``; return ``folder``.

    ``folder`` defaults to ``cache_dir(name)``, ``mirrors`` to ``mirrors_for(name)`` and
    ``checksums`` ({file name: SHA-256}) to ``SHA256[name]``. Files already there are kept.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    folder = folder or cache_dir(name)
    mirrors = mirrors or mirrors_for(name)
    checksums = checksums or SHA256[name]
    for base in _file_names(split):
        file = base + ".gz"
        dest = os.path.join(folder, file)
        if not os.path.isfile(dest):
            download_file([m.rstrip("/") + "/" + file for m in mirrors], dest, checksums[file],
                          timeout=timeout, log=log)
    return folder


# ---- a built-in synthetic image set ----

def synthetic_images(n, image_size=28, channels=1, seed=0):
    """``n`` procedurally drawn images, uint8 (n, channels, image_size, image_size).

    Each image holds one shape (disk, ring, square, plus, stroke or triangle) at a
    random place, size and angle, anti-aliased over one pixel; on 3 channels the
    shape is a bright random color on a dark one, and half the images get a
    second shape. The same seed gives the same images; no file or network needed.
    """
    rng = np.random.default_rng(seed)
    s = image_size
    out = np.empty((n, channels, s, s), np.uint8)
    chunk = 512
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        if channels == 1:
            alpha = _shape_masks(rng, m, s)                       # (m, s, s) in [0, 1]
            level = rng.uniform(0.75, 1.0, (m, 1, 1))
            img = (alpha * level)[:, None]                        # (m, 1, s, s)
        else:
            background = rng.uniform(0.0, 0.3, (m, channels, 1, 1)).astype(np.float32)
            img = np.broadcast_to(background, (m, channels, s, s))
            for layer in range(2):
                alpha = _shape_masks(rng, m, s)[:, None]          # (m, 1, s, s)
                if layer == 1:
                    alpha *= rng.random((m, 1, 1, 1)) < 0.5
                color = rng.uniform(0.0, 1.0, (m, channels, 1, 1)).astype(np.float32)
                color[np.arange(m), rng.integers(0, channels, m)] = 1.0   # one bright channel
                img = img + (color - img) * alpha
        out[start:start + m] = np.round(np.clip(img, 0, 1) * 255)
    return out


def _shape_masks(rng, m, s):
    """Coverage in [0, 1] of ``m`` random shapes on an s×s grid, from their signed distances."""
    kind = rng.integers(0, 6, m)
    cy, cx = rng.uniform(0.35 * s, 0.65 * s, (2, m, 1, 1)).astype(np.float32)
    r = rng.uniform(0.18 * s, 0.32 * s, (m, 1, 1)).astype(np.float32)
    w = np.maximum(rng.uniform(0.07 * s, 0.12 * s, (m, 1, 1)), 1.5).astype(np.float32)
    angle = rng.uniform(0, np.pi, (m, 1, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5              # pixel centers
    dy, dx = yy - cy, xx - cx
    # rotate into the shape's frame
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    sdf = np.empty((m, s, s), np.float32)
    for k, distance in enumerate([
            lambda u, v, r, w: np.hypot(u, v) - r,                                  # disk
            lambda u, v, r, w: np.abs(np.hypot(u, v) - r) - w / 2,                  # ring
            lambda u, v, r, w: _box(u, v, 0.8 * r, 0.8 * r),                        # square
            lambda u, v, r, w: np.minimum(_box(u, v, r, w / 2), _box(u, v, w / 2, r)),  # plus
            lambda u, v, r, w: _box(u, v, r, 0.0) - w / 2,                          # stroke
            lambda u, v, r, w: _triangle(u, v, 1.8 * r)]):                          # triangle
        i = kind == k
        sdf[i] = distance(u[i], v[i], r[i], w[i])
    # NOTE: coverage = 0.5 - distance, clipped: a one-pixel ramp, cheap anti-aliasing.
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _box(u, v, hu, hv):
    """Signed distance to the rectangle |u| ≤ hu, |v| ≤ hv."""
    qu, qv = np.abs(u) - hu, np.abs(v) - hv
    outside = np.hypot(np.maximum(qu, 0), np.maximum(qv, 0))
    return outside + np.minimum(np.maximum(qu, qv), 0)


def _triangle(u, v, r):
    """Signed distance to the equilateral triangle of side ``r`` centered on 0 (Inigo Quilez)."""
    k = np.sqrt(3.0)
    px, py = np.abs(u) - r / 2, v + r / (2 * k)
    flip = px + k * py > 0
    px, py = np.where(flip, (px - k * py) / 2, px), np.where(flip, (-k * px - py) / 2, py)
    px = px - np.clip(px, -r, 0)
    return -np.hypot(px, py) * np.sign(py)


# ---- a folder of images ----

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(folder):
    """Every image file under ``folder`` (recursively), sorted, by extension."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
    return found


def load_image_folder(folder, image_size=64, channels=3, limit=None, workers=4):
    """Images under ``folder``, each resized (shorter side) and center-cropped: uint8 (N, C, S, S).

    ``channels`` 1 converts to grayscale, 3 to RGB. Unreadable files are skipped;
    returns (images, number skipped).
    """
    from PIL import Image, ImageOps

    files = image_files(folder)[:limit]
    mode = "L" if channels == 1 else "RGB"

    def one(path):
        try:
            with Image.open(path) as im:
                im = ImageOps.fit(im.convert(mode), (image_size, image_size), Image.BICUBIC)
                a = np.asarray(im, dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)   # (H, W, C) -> (C, H, W)

    # NOTE: threads pay off: Pillow releases the GIL while it decodes and resizes.
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        decoded = list(pool.map(one, files))
    good = [a for a in decoded if a is not None]
    images = (np.stack(good) if good
              else np.zeros((0, channels, image_size, image_size), np.uint8))
    return images, len(decoded) - len(good)


def resize_images(images, image_size):
    """uint8 (N, C, H, W) -> (N, C, S, S), bilinear (MNIST's 28×28 for a 64×64 model)."""
    from PIL import Image
    n, c, h, w = images.shape
    if (h, w) == (image_size, image_size):
        return images
    out = np.empty((n, c, image_size, image_size), np.uint8)
    for i in range(n):
        for j in range(c):
            im = Image.fromarray(images[i, j]).resize((image_size, image_size), Image.BILINEAR)
            out[i, j] = np.asarray(im)
    return out


# ---- one entry point for the training scripts ----

SOURCES = ("auto",) + DATASETS + ("folder", "synthetic")
SYNTHETIC_SIZE = 20000   # images in the synthetic set
ImageSet = collections.namedtuple("ImageSet", ["name", "images", "source"])


class DatasetError(ValueError):
    """A dataset that cannot be had: the message says what is wrong and what to do, in one line."""


def load_image_dataset(name="auto", data_dir=None, image_size=28, limit=None, log=None,
                       download=True):
    """An ``ImageSet(name, images, source)``: uint8 images (N, C, image_size, image_size).

    ``name``: "mnist" or "fashion-mnist" (looked for in ``search_path``, else
    downloaded into the cache), "folder" (every image under ``data_dir``),
    "synthetic" (``synthetic_images``), or "auto": the first of MNIST,
    Fashion-MNIST found on disk, then MNIST downloaded, then synthetic.
    With ``data_dir`` the IDX files must be there: no other folder is searched.
    ``source`` says where the images came from. Channels: 1 for MNIST-like
    sets and for 28×28 images, else 3.
    """
    if name not in SOURCES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(SOURCES)}")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise DatasetError(f"data dir {data_dir} does not exist: pass the folder that holds "
                           f"the dataset, or leave the data dir out to search the usual places")
    channels = 1 if image_size == 28 else 3

    if name == "synthetic":
        n = SYNTHETIC_SIZE if limit is None else min(limit, SYNTHETIC_SIZE)
        return ImageSet("synthetic", synthetic_images(n, image_size, channels), "built in")

    if name == "folder":
        if data_dir is None:
            raise DatasetError("the folder dataset needs a data dir: the folder of images")
        images, skipped = load_image_folder(data_dir, image_size, channels, limit)
        if len(images) == 0:
            raise DatasetError(f"no readable images ({', '.join(IMAGE_EXTENSIONS)}) under "
                               f"{data_dir}" + (f" ({skipped} files could not be read)"
                                                if skipped else ""))
        if skipped and log:
            log(f"skipped {skipped} unreadable files under {data_dir}")
        return ImageSet("folder", images, os.path.abspath(data_dir))

    names = list(DATASETS) if name == "auto" else [name]
    for candidate in names:
        folder = _find_idx(candidate, data_dir)
        if folder is not None:
            if name == "auto" and data_dir is not None:
                candidate = _guess_name(folder)
            return _load_idx_set(candidate, folder, image_size, limit)
    if data_dir is not None:
        images, labels = _file_names("train")
        raise DatasetError(f"data dir {data_dir} holds no {images}[.gz] and {labels}[.gz]: "
                           f"pass the folder that holds them, or --dataset folder for a folder "
                           f"of image files")
    failure = "downloads are off"
    if download:
        try:
            folder = download_dataset(names[0], log=log)
            return _load_idx_set(names[0], folder, image_size, limit)
        except DownloadError as e:
            failure = f"download failed ({e})"
    if name == "auto":
        if log:
            log(f"no MNIST or Fashion-MNIST on this machine and {failure}: "
                "using the synthetic set")
        return load_image_dataset("synthetic", None, image_size, limit, log)
    places = ", ".join(search_path(name))
    raise DatasetError(f"{name} is not in any of {places}, and the {failure}: put the files in "
                       f"one of these folders, or pass their folder as the data dir")


def _find_idx(name, data_dir):
    """The folder holding ``name``'s train files: only ``data_dir`` when given."""
    if data_dir is None:
        return find_dataset(name)
    images, labels = _file_names("train")
    if _idx_file(data_dir, images) and _idx_file(data_dir, labels):
        return os.fspath(data_dir)
    return None


def _guess_name(folder):
    """MNIST and Fashion-MNIST files have the same names: tell them apart by the folder's."""
    return "fashion-mnist" if "fashion" in os.path.abspath(folder).lower() else "mnist"


def _load_idx_set(name, folder, image_size, limit):
    images, _ = load_mnist_like(name, folder)   # ValueError for a corrupt file
    images = images[:limit, None]               # (N, 28, 28) -> (N, 1, 28, 28)
    return ImageSet(name, resize_images(images, image_size), os.path.abspath(folder))


# ---- batches on the device ----

class BatchStream:
    """Shuffled batches of uint8 images, for ever, as float32 tensors in [-1, 1] on ``device``.

    The whole set is copied to the device once, so a batch is one gather and one
    scale there: the GPU never waits for the host. Epoch e is shuffled by a
    generator seeded with (seed, e), so ``state_dict()`` (the epoch and the
    position in it) is all a resumed run needs to continue with the same batches.
    Each epoch drops its last short batch.
    """

    def __init__(self, images, batch_size, seed=0, device="cpu", name=None):
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"BatchStream: expected uint8 (N, C, H, W), got {images.dtype} "
                             f"{images.shape}")
        if len(images) < batch_size:
            raise ValueError(f"BatchStream: {len(images)} images, fewer than one batch of "
                             f"{batch_size}")
        self.images = backend.to_device(images, device)
        self.batch_size, self.seed, self.device, self.name = batch_size, seed, device, name
        self.batches_per_epoch = len(images) // batch_size
        self.epoch, self.position = 0, 0   # position: batches already served in this epoch
        self._order = None

    def __len__(self):
        return len(self.images)

    def order(self, epoch):
        """The permutation of epoch ``epoch``."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.images))

    def next(self):
        if self.position == self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        if self._order is None or self._order[0] != self.epoch:
            self._order = (self.epoch, self.order(self.epoch))
        start = self.position * self.batch_size
        index = self._order[1][start:start + self.batch_size]
        self.position += 1
        x = self.images[backend.to_device(index, self.device)]
        # NOTE: scale on the device: 4 times less to hold there than float32 images.
        return Tensor(x.astype(np.float32) / np.float32(127.5) - np.float32(1.0))

    __next__ = next

    def __iter__(self):
        return self

    def state_dict(self):
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "batch_size": self.batch_size, "n": len(self.images), "name": self.name}

    def load_state_dict(self, state):
        if (state["n"], state["name"]) != (len(self.images), self.name):
            raise ValueError(f"the saved position is in {state['n']} images of {state['name']}, "
                             f"this stream has {len(self.images)} images of {self.name}")
        if state["batch_size"] != self.batch_size:
            raise ValueError(f"the saved position is in batches of {state['batch_size']}, this "
                             f"stream makes batches of {self.batch_size}")
        self.seed, self.epoch, self.position = state["seed"], state["epoch"], state["position"]
        self._order = None
