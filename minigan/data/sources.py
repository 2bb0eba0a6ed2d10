"""``load_image_dataset``: the one entry point of the training scripts, which picks the source.

MNIST, Fashion-MNIST (found on disk, else downloaded), a folder of images, or the
built-in synthetic set, as uint8 (N, C, H, W).
"""
import collections
import os

from .download import download_dataset
from .errors import DatasetError, DownloadError
from .folder import IMAGE_EXTENSIONS, load_image_folder, resize_images
from .mnist import DATASETS, _file_names, _idx_file, find_dataset, load_mnist_like, search_path
from .synthetic import synthetic_images

SOURCES = ("auto",) + DATASETS + ("folder", "synthetic")
SYNTHETIC_SIZE = 20000   # images in the synthetic set
ImageSet = collections.namedtuple("ImageSet", ["name", "images", "source"])


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
        raise DatasetError(f"data_dir {data_dir} does not exist: pass the folder that holds "
                           f"the dataset, or data_dir=None to search the usual places")
    channels = 1 if image_size == 28 else 3

    if name == "synthetic":
        n = SYNTHETIC_SIZE if limit is None else min(limit, SYNTHETIC_SIZE)
        return ImageSet("synthetic", synthetic_images(n, image_size, channels), "built in")

    if name == "folder":
        if data_dir is None:
            raise DatasetError("name='folder' needs data_dir: the folder of images")
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
        raise DatasetError(f"data_dir {data_dir} holds no {images}[.gz] and {labels}[.gz]: "
                           f"pass the folder that holds them, or name='folder' for a folder "
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
                       f"one of these folders, or pass their folder as data_dir")


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
    images, _ = load_mnist_like(name, folder)   # DatasetFormatError for a corrupt file
    images = images[:limit, None]               # (N, 28, 28) -> (N, 1, 28, 28)
    return ImageSet(name, resize_images(images, image_size), os.path.abspath(folder))
