"""``save`` and ``load``: nested dicts and lists of tensors, arrays and numbers in one ``.npz``.

The file format (version 1) is a plain NumPy ``.npz`` archive (a zip file):

* ``__minigan__``: a uint8 array holding UTF-8 JSON
  ``{"format": "minigan", "version": 1, "tree": NODE}``;
* ``a0``, ``a1``, ...: the arrays, one entry each.

A NODE is a JSON number, string, bool or null for itself, or an object:
``{"tensor": "a0", "requires_grad": false, "device": "cpu", "parameter": false}``,
``{"array": "a1"}`` (a NumPy array; ``"scalar": true`` for a NumPy scalar),
``{"list": [NODE, ...]}``, ``{"tuple": [NODE, ...]}``, or
``{"dict": [[KEY, NODE], ...]}`` (keys may be strings, numbers, bools or null).

Nothing is pickled: ``load`` never runs code from the file. Files are written
to a temporary name beside the target and renamed into place, so a crash
never leaves a half-written checkpoint under the real name.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend
from .nn.module import Parameter
from .tensor import Tensor

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """The file is not a (complete) minigan file."""


def save(obj, path):
    """Write ``obj`` to ``path`` atomically (temporary file, fsync, rename)."""
    arrays = {}
    tree = _encode(obj, arrays)
    header = json.dumps({"format": "minigan", "version": FORMAT_VERSION, "tree": tree})
    arrays["__minigan__"] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path, map_location=None):
    """Read what ``save`` wrote. Tensors return to their saved device unless
    ``map_location`` ('cpu' or 'cuda') says otherwise."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"minigan.load: no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "__minigan__" not in archive.files:
                raise CheckpointError(f"minigan.load: {path} has no minigan header: it was not "
                                      f"written by minigan.save")
            header = json.loads(bytes(archive["__minigan__"]).decode("utf-8"))
            if header.get("format") != "minigan" or header.get("version") != FORMAT_VERSION:
                raise CheckpointError(f"minigan.load: {path} has format "
                                      f"{header.get('format')!r} version "
                                      f"{header.get('version')!r}; this minigan reads version "
                                      f"{FORMAT_VERSION}")
            arrays = {name: archive[name] for name in archive.files if name != "__minigan__"}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError) as e:
        # NOTE: NumPy's own message suggests allow_pickle for files that are not zips; that
        # would run code from the file, so it is not passed on.
        reason = "not a zip archive" if "allow_pickle" in str(e) else f"{type(e).__name__}: {e}"
        raise CheckpointError(f"minigan.load: {path} is truncated or not a minigan file "
                              f"({reason})") from None
    try:
        return _decode(header["tree"], arrays, map_location)
    except (KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"minigan.load: {path} has a damaged structure "
                              f"({type(e).__name__}: {e})") from None


def leaves(tree, prefix=""):
    """{key path: NumPy array} of every tensor, array and number in a tree that ``load`` gave,
    e.g. ``{"/models/G/main.0.weight": ...}``: two checkpoints compare leaf by leaf."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        value = tree.data if isinstance(tree, Tensor) else tree
        return {prefix: np.asarray(backend.to_device(value, "cpu") if hasattr(value, "shape")
                                   else value)}
    found = {}
    for key, node in items:
        found.update(leaves(node, f"{prefix}/{key}"))
    return found


def _encode(obj, arrays):

    def store(array):
        name = f"a{len(arrays)}"
        arrays[name] = backend.to_device(array, "cpu")
        return name

    if isinstance(obj, Tensor):
        return {"tensor": store(obj.data), "requires_grad": bool(obj.requires_grad),
                "device": obj.device, "parameter": isinstance(obj, Parameter)}
    if isinstance(obj, np.generic):
        return {"array": store(np.asarray(obj)), "scalar": True}
    if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
        return {"array": store(obj)}
    if isinstance(obj, dict):
        return {"dict": [[_encode_key(k), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, list):
        return {"list": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, arrays) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"minigan.save: cannot store an object of type {type(obj).__name__}")


def _encode_key(key):
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    raise TypeError(f"minigan.save: dict keys must be str, int, float, bool or None, "
                    f"got {type(key).__name__}")


def _decode(node, arrays, map_location):
    if not isinstance(node, dict):
        return node
    if "tensor" in node:
        device = map_location or node["device"]
        cls = Parameter if node.get("parameter") else Tensor
        return cls(backend.to_device(arrays[node["tensor"]], device),
                   requires_grad=node["requires_grad"])
    if "array" in node:
        array = arrays[node["array"]]
        return array[()] if node.get("scalar") else array
    if "dict" in node:
        return {k: _decode(v, arrays, map_location) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, arrays, map_location) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays, map_location) for v in node["tuple"])
    raise KeyError(f"unknown node {sorted(node)}")
