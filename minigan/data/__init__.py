"""Datasets as NumPy arrays: MNIST-like IDX files, where to find or download them, batching.

``find_dataset`` looks in a fixed list of folders; Debian's
``dataset-fashion-mnist`` package fills one of them
(``/usr/share/datasets/fashion-mnist``). ``download_dataset`` fetches
MNIST or Fashion-MNIST from public mirrors into ``~/.cache/minigan/<name>``,
checking every file's SHA-256. ``load_image_dataset`` is the one entry point
of the training scripts: MNIST, Fashion-MNIST, a folder of images, or a
built-in synthetic set, as uint8 (N, C, H, W); ``BatchStream`` serves it in
shuffled batches, on the device, in [-1, 1], and can say where it is so a
resumed run sees the same batches.

One module per concern:

    errors     DatasetError, DatasetFormatError, DownloadError
    idx        read_idx, write_idx: the IDX file format
    mnist      search_path, find_dataset, load_mnist_like: MNIST-like sets on disk
    download   download_dataset: public mirrors, checked by SHA-256
    synthetic  synthetic_images: the built-in set, drawn from a seed
    folder     load_image_folder, resize_images: image files through Pillow
    pixels     to_signed_range, to_unit_range, to_uint8: pixel scaling, written once
    stream     batches, BatchStream
    sources    load_image_dataset: picks one of the above
"""
from .download import MIRRORS, SHA256, download_dataset, download_file, mirrors_for
from .errors import DatasetError, DatasetFormatError, DownloadError
from .folder import IMAGE_EXTENSIONS, image_files, load_image_folder, resize_images
from .idx import GZIP_MAGIC, IDX_DTYPES, read_idx, write_idx
from .mnist import (DATASETS, SPLITS, SYSTEM_DIR, cache_dir, find_dataset, load_mnist_like,
                    search_path)
from .pixels import to_signed_range, to_uint8, to_unit_range
from .sources import SOURCES, SYNTHETIC_SIZE, ImageSet, load_image_dataset
from .stream import BatchStream, batches
from .synthetic import synthetic_images

__all__ = [
    "BatchStream", "DATASETS", "DatasetError", "DatasetFormatError", "DownloadError",
    "GZIP_MAGIC", "IDX_DTYPES", "IMAGE_EXTENSIONS", "ImageSet", "MIRRORS", "SHA256", "SOURCES",
    "SPLITS", "SYNTHETIC_SIZE", "SYSTEM_DIR", "batches", "cache_dir", "download_dataset",
    "download_file", "find_dataset", "image_files", "load_image_dataset", "load_image_folder",
    "load_mnist_like", "mirrors_for", "read_idx", "resize_images", "search_path",
    "synthetic_images", "to_signed_range", "to_uint8", "to_unit_range", "write_idx",
]
