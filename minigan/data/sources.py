"""Where a training set's images come from: a registry of sources, and ``load_image_dataset``.

Each source declares its ``name``, the ``files`` it reads, the ``test_files`` of its test
split (none: it has no test split) and the ``channels`` it can give, and loads uint8
images (N, C, H, W):

    mnist, fashion-mnist   IdxSource: IDX files on disk (``search_path``), else downloaded
    folder                 ImageFolderSource: every image file under a folder, through Pillow
    synthetic              SyntheticSource: ``synthetic_images``, drawn from a seed
    auto                   AutoSource: an order over the others

``SOURCES`` maps each name to its source; ``load_image_dataset`` looks the name up.
"""
import collections
import os

from .download import download_dataset
from .errors import DataFolderError, DatasetError, DownloadError
from .folder import IMAGE_EXTENSIONS, load_image_folder, resize_images
from .mnist import find_dataset, find_idx_file, idx_file_names, load_mnist_like, search_path
from .synthetic import synthetic_images

SYNTHETIC_SIZE = 20000   # images in the synthetic set
# source: where the images came from, a folder or "built in"
ImageSet = collections.namedtuple("ImageSet", ["name", "images", "source"])


def default_channels(image_size):
    """The channels of a source that can give 1 or 3 when none is asked for.

    1 at MNIST's 28×28, 3 (RGB) at any other size: a 28×28 run trains on grayscale
    images and a 64×64 one on color images, whatever the source. The one place where
    a size implies channels (the DCGAN models take their default from it too).
    """
    return 1 if image_size == 28 else 3


class Source:
    """One place images come from. ``channels``: the channel counts it can give."""
    name = ""
    files = ()          # what it reads, as a person would look for it
    test_files = ()     # what its test split reads; () for a source without one
    channels = (1, 3)

    def pick_channels(self, channels, image_size):
        """``channels`` if this source gives it; when None, its only count or the default."""
        if channels is None:
            return self.channels[0] if len(self.channels) == 1 else default_channels(image_size)
        if channels not in self.channels:
            counts = " or ".join(map(str, self.channels))
            plural = "" if self.channels == (1,) else "s"
            raise DatasetError(f"{self.name} images have {counts} channel{plural}, not {channels}")
        return channels

    def load(self, data_dir, image_size, channels, limit, log, download):
        """An ``ImageSet`` of uint8 (N, channels, image_size, image_size)."""
        raise NotImplementedError

    def load_test(self, beside, image_size, log=None, download=True):
        """The test split's uint8 images (N, C, image_size, image_size), for a source that
        has one (``test_files``); ``beside``: the folder its training images came from."""
        raise DatasetError(f"the {self.name} set has no test split")


class IdxSource(Source):
    """MNIST or Fashion-MNIST: the train split's IDX files, 28×28 grayscale, resized.

    Without a folder they are looked for in ``search_path(name)``, else downloaded into
    ``cache_dir(name)``; with one they must be there. ``folder_word``: a word in a folder's
    path that says the files in it are this set's (their names are the same for every set).
    """
    channels = (1,)

    def __init__(self, name, folder_word=None):
        self.name, self.folder_word = name, folder_word
        self.files = idx_file_names("train")   # (images, labels), each also as .gz
        self.test_files = idx_file_names("test")

    def find(self, data_dir=None):
        """The folder that holds the files (only ``data_dir`` is looked at when given), or None."""
        if data_dir is None:
            return find_dataset(self.name)
        if all(find_idx_file(data_dir, file) for file in self.files):
            return os.fspath(data_dir)
        return None

    def not_in(self, data_dir):
        images, labels = self.files
        return DatasetError(f"{data_dir} holds no {images}[.gz] and {labels}[.gz]: pass the "
                            f"folder that holds them, or read it as a folder of image files")

    def read(self, folder, image_size, channels, limit):
        self.pick_channels(channels, image_size)         # always 1: else a DatasetError
        images, _ = load_mnist_like(self.name, folder)   # DatasetFormatError for a corrupt file
        images = images[:limit, None]                    # (N, 28, 28) -> (N, 1, 28, 28)
        return ImageSet(self.name, resize_images(images, image_size), os.path.abspath(folder))

    def download(self, log, split="train"):
        """The cache folder, the split's files downloaded into it; DownloadError if no mirror
        has them."""
        return download_dataset(self.name, split, log=log)

    def load_split(self, split, beside=None, download=False, log=None):
        """(images uint8 (N, 28, 28), labels uint8 (N,), folder) of the "train" or "test"
        split: in ``beside``, else in ``search_path``, else downloaded (with ``download``).
        FileNotFoundError (nowhere), DownloadError, DatasetFormatError."""
        folder = find_dataset(self.name, beside, split)
        if folder is None and download:
            folder = self.download(log, split)
        images, labels = load_mnist_like(self.name, folder or beside, split)
        return images, labels, folder

    def load_test(self, beside, image_size, log=None, download=True):
        images = self.load_split("test", beside, download, log)[0]
        # (N, 28, 28) -> (N, 1, S, S)
        return resize_images(images[:, None], image_size)

    def load(self, data_dir, image_size, channels, limit, log, download):
        folder = self.find(data_dir)
        if folder is not None:
            return self.read(folder, image_size, channels, limit)
        if data_dir is not None:
            raise self.not_in(data_dir)
        failure = "downloads are off"
        if download:
            try:
                return self.read(self.download(log), image_size, channels, limit)
            except DownloadError as e:
                failure = f"download failed ({e})"
        places = ", ".join(search_path(self.name))
        raise DatasetError(f"{self.name} is not in any of {places}, and the {failure}: put the "
                           f"files in one of these folders, or give the folder that holds them")


class ImageFolderSource(Source):
    """Every image file under a folder (recursively), resized and center-cropped."""
    name = "folder"
    files = tuple("*" + ext for ext in IMAGE_EXTENSIONS)

    def load(self, data_dir, image_size, channels, limit, log, download):
        if data_dir is None:
            raise DatasetError("a folder of images was asked for, but no folder was given")
        channels = self.pick_channels(channels, image_size)
        images, skipped = load_image_folder(data_dir, image_size, channels, limit)
        if len(images) == 0:
            raise DatasetError(f"no readable images ({', '.join(IMAGE_EXTENSIONS)}) under "
                               f"{data_dir}" + (f" ({skipped} files could not be read)"
                                                if skipped else ""))
        if skipped and log:
            log(f"skipped {skipped} unreadable files under {data_dir}")
        return ImageSet(self.name, images, os.path.abspath(data_dir))


class SyntheticSource(Source):
    """``SYNTHETIC_SIZE`` images of ``synthetic_images``: no file, no network."""
    name = "synthetic"

    def load(self, data_dir, image_size, channels, limit, log, download):
        n = SYNTHETIC_SIZE if limit is None else min(limit, SYNTHETIC_SIZE)
        channels = self.pick_channels(channels, image_size)
        return ImageSet(self.name, synthetic_images(n, image_size, channels), "built in")


class AutoSource(Source):
    """The first that works of: each of ``order`` found on disk, ``order[0]`` downloaded, and
    ``fallback``. Given a folder, only ``order``'s files there, named by the folder's path."""
    name = "auto"

    def __init__(self, order, fallback):
        self.order, self.fallback = order, fallback
        self.files = order[0].files
        self.channels = tuple(sorted({c for s in (*order, fallback) for c in s.channels}))

    def load(self, data_dir, image_size, channels, limit, log, download):
        if data_dir is not None:
            path = os.path.abspath(data_dir).lower()
            named = next((s for s in self.order if s.folder_word and s.folder_word in path),
                         self.order[0])
            return named.load(data_dir, image_size, channels, limit, log, download)
        for source in self.order:
            folder = source.find()
            if folder is not None:
                return source.read(folder, image_size, channels, limit)
        failure = "downloads are off"
        if download:
            try:
                first = self.order[0]
                return first.read(first.download(log), image_size, channels, limit)
            except DownloadError as e:
                failure = f"download failed ({e})"
        if log:
            log(f"no MNIST or Fashion-MNIST on this machine and {failure}: "
                f"using the {self.fallback.name} set")
        return self.fallback.load(None, image_size, channels, limit, log, download)


MNIST = IdxSource("mnist")
FASHION_MNIST = IdxSource("fashion-mnist", folder_word="fashion")
IMAGE_FOLDER = ImageFolderSource()
SYNTHETIC = SyntheticSource()
AUTO = AutoSource(order=(MNIST, FASHION_MNIST), fallback=SYNTHETIC)
SOURCES = {source.name: source for source in (AUTO, MNIST, FASHION_MNIST, IMAGE_FOLDER, SYNTHETIC)}


def load_image_dataset(name="auto", data_dir=None, image_size=28, limit=None, log=None,
                       download=True, channels=None):
    """An ``ImageSet(name, images, source)``: uint8 images (N, C, image_size, image_size).

    ``name`` is a key of ``SOURCES``: "mnist" or "fashion-mnist" (looked for in
    ``search_path``, else downloaded into the cache), "folder" (every image under
    ``data_dir``), "synthetic" (``synthetic_images``), or "auto": the first of MNIST,
    Fashion-MNIST found on disk, then MNIST downloaded, then synthetic.
    With ``data_dir`` the IDX files must be there: no other folder is searched.
    ``source`` says where the images came from. ``channels``: 1 or 3, where the source
    can give it; None takes the source's own (1 for MNIST-like sets), else
    ``default_channels(image_size)``.
    """
    if name not in SOURCES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(SOURCES)}")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise DataFolderError(f"{data_dir} is not a folder" if os.path.exists(data_dir)
                              else f"data folder {data_dir} does not exist")
    return SOURCES[name].load(data_dir, image_size, channels, limit, log, download)
