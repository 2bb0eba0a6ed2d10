"""Checkpoints: where they are, which one a run continues from, and how one is read.

A checkpoint is one ``minigan.save`` file, ``checkpoint-<step>.npz``: the models (buffers
included), the optimizers, the step, the data position and the RNG state, so N steps,
a resume, and N more equal 2N steps in one run, bit for bit.
"""
import os
import re

import minigan
from ..serialization import CheckpointError
from .errors import BadCheckpoint, CheckpointMismatch, CheckpointNotFound, RunExists, \
    RunFolderError

KIND = "minigan.training checkpoint"
VERSION = 1
NAME = re.compile(r"^checkpoint-(\d+)\.npz$")


def checkpoint_path(out, step):
    return os.path.join(out, f"checkpoint-{step:07d}.npz")


def list_checkpoints(out):
    """[(step, path)] of the checkpoints in ``out``, oldest first."""
    if not os.path.isdir(out):
        return []
    found = [(int(m.group(1)), os.path.join(out, name))
             for name in os.listdir(out) if (m := NAME.match(name))]
    return sorted(found)


def free_folder(out):
    """``out`` when it holds no run, else the first of ``out-2``, ``out-3``, ... that holds none."""
    candidate, n = out, 1
    while list_checkpoints(candidate):
        n += 1
        candidate = f"{out}-{n}"
    return candidate


def check_folder(out, what="a run folder"):
    """``RunFolderError`` unless ``out`` is a folder, or one that ``make_folder`` can make
    (nothing is made: a run that fails before its first file leaves no empty folder).
    ``what``: the folder's use, as the message says it."""
    if not out:
        raise RunFolderError(f"an empty path cannot be {what}")
    path = os.path.abspath(out)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        where = "is a file" if path == os.path.abspath(out) else f"is under a file, {path}"
        raise RunFolderError(f"{out} cannot be {what}: it {where}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunFolderError(f"{out} cannot be {what}: {path} is not writable")


def make_folder(path, parent=False):
    """Make the folder ``path`` (with ``parent``: the folder of the file ``path``) and those
    above it; ``RunFolderError`` when it cannot be made."""
    folder = os.path.dirname(path) if parent else path
    if not folder:
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:   # FileExistsError (a file there), NotADirectoryError, PermissionError
        raise RunFolderError(f"cannot make the folder {folder}: {e.strerror or e}") from None


def find_checkpoint(resume, out):
    """The checkpoint a run continues from: ``resume`` is None (a fresh start), 'auto' (the
    newest in ``out``, or None when there is none), a file, or a folder (its newest).

    A fresh start in an ``out`` that already holds checkpoints raises ``RunExists``: two
    runs in one folder would mix their files, and 'auto' would pick the wrong one.
    """
    if resume is None:
        found = list_checkpoints(out)
        if found:
            raise RunExists(f"{out} already holds a run ({os.path.basename(found[-1][1])})")
        return None
    if resume == "auto" or os.path.isdir(resume):
        folder = out if resume == "auto" else resume
        found = list_checkpoints(folder)
        if not found and resume != "auto":
            raise CheckpointNotFound(f"{resume}: the folder holds no checkpoint-*.npz")
        return found[-1][1] if found else None
    if not os.path.isfile(resume):
        raise CheckpointNotFound(f"{resume}: no such file")
    return resume


def load_checkpoint(path):
    """The dict a Checkpoint extension saved; ``BadCheckpoint`` for a damaged file or one of
    another kind."""
    try:
        ckpt = minigan.load(path, map_location="cpu")
    except (CheckpointError, OSError) as e:
        raise BadCheckpoint(f"checkpoint {path} is damaged or not a checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise BadCheckpoint(f"{path} is a minigan file but not a training checkpoint")
    if ckpt.get("version") != VERSION:
        raise BadCheckpoint(f"checkpoint {path} has version {ckpt.get('version')}; this "
                            f"minigan reads version {VERSION}")
    ckpt["path"] = path
    return ckpt


def check_arch(ckpt, arch):
    """``CheckpointMismatch`` unless the checkpoint holds the models ``arch`` describes."""
    if ckpt["arch"] != arch:
        raise CheckpointMismatch(f"checkpoint {ckpt.get('path', '')} holds "
                                 f"{describe_arch(ckpt['arch'])} but this run builds "
                                 f"{describe_arch(arch)}")


def describe_arch(arch):
    """'dcgan28 (nz 100, ngf 64, ndf 64, 1 channel)'."""
    sizes = ", ".join(f"{k} {arch[k]}" for k in ("nz", "ngf", "ndf") if k in arch)
    nc = arch.get("nc")
    return (f"{arch.get('model')}{arch.get('image_size', '')} ({sizes}, "
            f"{nc} channel{'s' if nc != 1 else ''})")


def rng_state():
    """Every random state a run draws from: minigan's generator (the library draws from no
    other, and leaves NumPy's global one to the user)."""
    return {"minigan": minigan.get_rng_state()}


def set_rng_state(state):
    """Continue from ``rng_state()``'s state (a checkpoint's NumPy state, which runs before
    this version saved, is not restored: nothing here draws from it)."""
    minigan.set_rng_state(state["minigan"])
