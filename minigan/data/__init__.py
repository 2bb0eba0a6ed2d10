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

    errors     DatasetError, DatasetFormatError, DataFolderError, DownloadError
    idx        read_idx, write_idx: the IDX file format
    mnist      search_path, find_dataset, load_mnist_like: MNIST-like sets on disk
    download   download_dataset: public mirrors, checked by SHA-256
    synthetic  synthetic_images: the built-in set, drawn from a seed
    folder     load_image_folder, resize_images: image files through Pillow
    pixels     to_tanh_range, to_uint8: pixel scaling, written once
    stream     batches, BatchStream
    sources    SOURCES (each declares its name, files and channels), load_image_dataset
"""
from .download import MIRRORS, SHA256, download_dataset, download_file, mirrors_for
from .errors import DataFolderError, DatasetError, DatasetFormatError, DownloadError
from .folder import IMAGE_EXTENSIONS, image_files, load_image_folder, resize_images
from .idx import GZIP_MAGIC, IDX_DTYPES, read_idx, write_idx
from .mnist import (DATASETS, SPLIT_PREFIXES, SYSTEM_DIR, cache_dir, find_dataset, find_idx_file,
                    idx_file_names, load_mnist_like, search_path)
from .pixels import to_tanh_range, to_uint8
from .sources import (SOURCES, SYNTHETIC_SIZE, AutoSource, IdxSource, ImageFolderSource, ImageSet,
                      Source, SyntheticSource, default_channels, load_image_dataset)
from .stream import BatchStream, batches
from .synthetic import synthetic_images

__all__ = [
    "AutoSource", "BatchStream", "DATASETS", "DataFolderError", "DatasetError", "DatasetFormatError",
    "DownloadError", "GZIP_MAGIC", "IDX_DTYPES", "IMAGE_EXTENSIONS", "IdxSource",
    "ImageFolderSource", "ImageSet", "MIRRORS", "SHA256", "SOURCES", "SPLIT_PREFIXES",
    "SYNTHETIC_SIZE", "SYSTEM_DIR", "Source", "SyntheticSource", "batches", "cache_dir",
    "default_channels", "download_dataset", "download_file", "find_dataset", "find_idx_file",
    "idx_file_names", "image_files", "load_image_dataset", "load_image_folder",
    "load_mnist_like", "mirrors_for", "read_idx", "resize_images", "search_path",
    "synthetic_images", "to_tanh_range", "to_uint8", "write_idx",
]
