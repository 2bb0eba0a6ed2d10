"""MNIST and Fashion-MNIST on disk: the folders looked in, in order, and loading one split.

``find_dataset`` looks in a fixed list of folders (``search_path``); Debian's
``dataset-fashion-mnist`` package fills one of them (``/usr/share/datasets/fashion-mnist``),
``download_dataset`` another (``cache_dir``).
"""
import os

import numpy as np

from .errors import DatasetFormatError
from .idx import read_idx

DATASETS = ("mnist", "fashion-mnist")
SPLIT_PREFIXES = {"train": "train", "test": "t10k", "t10k": "t10k"}   # a split -> its files' prefix
SYSTEM_DIR = "/usr/share/datasets"  # where Debian's dataset-* packages put their files


def idx_file_names(split):
    """The IDX file names of one split, without the ``.gz``: (images, labels)."""
    prefix = SPLIT_PREFIXES[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def find_idx_file(folder, name):
    """The path of IDX file ``name`` in ``folder``, or None: ``folder/name.gz``, ``folder/name``,
    or the ``train-images.idx3-ubyte`` spelling."""
    for candidate in (name + ".gz", name, name.replace("-idx", ".idx")):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def cache_dir(name):
    """``~/.cache/minigan/<name>``: where downloads go (one of ``search_path``'s folders)."""
    return os.path.join(os.path.expanduser("~"), ".cache", "minigan", name)


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
    folders.append(cache_dir(name))
    folders.append(os.path.join(SYSTEM_DIR, name))
    return folders


def find_dataset(name, data_dir=None, split="train"):
    """The first folder of ``search_path(name, data_dir)`` that holds the split's images and labels.

    Returns None when no folder has them.
    """
    images, labels = idx_file_names(split)
    for folder in search_path(name, data_dir):
        if find_idx_file(folder, images) and find_idx_file(folder, labels):
            return folder
    return None


def load_mnist_like(name, data_dir=None, split="train"):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of MNIST or Fashion-MNIST.

    ``split`` is "train" (60000 images) or "test" (10000, the "t10k" files). Raises
    FileNotFoundError when no folder holds them, DatasetFormatError when a file is malformed.
    """
    if split not in SPLIT_PREFIXES:
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
    folder = find_dataset(name, data_dir, split)
    images_name, labels_name = idx_file_names(split)
    if folder is None:
        searched = "\n  ".join(search_path(name, data_dir))
        raise FileNotFoundError(
            f"{name} ({split}): no folder holds {images_name}[.gz] and {labels_name}[.gz]. "
            f"Searched:\n  {searched}\n"
            f"Put the files in one of these, or name their folder, or set $MINIGAN_DATA."
            + (" (Debian: apt-get install dataset-fashion-mnist.)"
               if name == "fashion-mnist" else ""))
    images = read_idx(find_idx_file(folder, images_name))
    labels = read_idx(find_idx_file(folder, labels_name))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetFormatError(f"{name}: images must be uint8 (N, H, W), got {images.dtype} "
                                 f"{images.shape} in {folder}")
    if labels.shape != images.shape[:1]:
        raise DatasetFormatError(f"{name}: {images.shape[0]} images but labels of shape "
                                 f"{labels.shape} in {folder}")
    return images, labels
