"""CuPy's own kernels in the CuPy double: how a generic call, a copy between host and
device, and a product run, on memory from CuPy's pool (cupy_streams.Pool).

Every rule cites CuPy at tag v14.2.0 by file and line (paths under cupy/ or cupy_backends/),
or the CuPy test that pins it (see cupy_double). The array these calls make and take is
cupy_ndarray's ``DeviceArray``.

- Generic calls (an elementwise op, a reduction, a copy, a fill) are kernels of CuPy's own:
  they run on the current stream and are captured like any launch (test_graph _helper1-3).
- Host and device: a host numpy.ndarray among the operands of a generic call is
  ``TypeError: Unsupported type`` (_kernel.pyx:147-156, _scalar.pyx:341-344; test
  test_ndarray_ufunc test_binary_mixed_op); as the value of a basic-index assignment or of
  ``fill``, a non-scalar one is a ValueError (core.pyx:1000-1019, _routines_indexing.pyx:
  1088-1093); as an index array or the value of an advanced-index assignment it is copied to
  the device first (_routines_indexing.pyx:290-291, 916-917). Host-to-device copies
  (``asarray`` of a host array, ``set``; core.pyx:3040-3103, 2210-2244) and device-to-host
  ones (``get``, ``item``, ``float()``, ``int()``, ``bool()``, ``tolist``, ``repr``; core.pyx:
  680-703, 2048-2055, 2098-2208) are refused while the current stream captures (memory.pyx:
  611-621, 709-719). So is anything that reads a count on the host: ``nonzero``,
  ``where(cond)``, ``argwhere``, ``compress`` (_routines_indexing.pyx:123) and boolean masks
  (_routines_indexing.pyx:802).
- Products: ``matmul`` of operands of at most two dimensions hands cuBLAS a C- or F-ordered
  operand as it is and copies any other (_routines_linalg.pyx:460-472); of more, it copies
  every operand that is not C-ordered (_routines_linalg.pyx:903-904). Integer products, empty
  operands and products of one element run CuPy's own kernels (_routines_linalg.pyx:557-578,
  615-624). Every other product is a cuBLAS call, refused during a capture (cublas.pyx:
  642-655; test_graph test_stream_capture_failure_cublas).
"""
import contextlib
import ctypes

import numpy as np

from . import cupy_streams as streams
from .cupy_names import DEVICE_BOOLS, IN_PLACE, READ_A_COUNT
from .our_rules import record


def _device_array():
    """cupy_ndarray's DeviceArray, the class of the arrays these calls make and take."""
    # NOTE: imported on use: cupy_ndarray imports this module, whose functions its methods call
    from .cupy_ndarray import DeviceArray
    return DeviceArray


# ---- device memory: CuPy's pool (cupy_streams.Pool) ----
def empty(shape, dtype=float, order="C", strides=None):
    """``cupy.empty``: a block of the pool, no launch (cupy/_creation/basic.py:15-34)."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    dtype = np.dtype(dtype)
    return streams.pool.malloc(
        int(np.prod(shape, dtype=np.int64)) * dtype.itemsize,
        lambda buffer: _device_array()(shape, dtype, buffer, strides=strides, order=order))


def empty_like(a, dtype=None, order="K", shape=None):
    """cupy.empty_like: order 'K' keeps the axes' order of ``a`` (cupy/_core/internal.pyx,
    _get_strides_for_order_K, as core.pyx:764-767 uses it)."""
    dtype = np.dtype(a.dtype if dtype is None else dtype)
    if shape is not None or order == "C" or (order in ("K", "A") and a.flags.c_contiguous):
        return empty(a.shape if shape is None else shape, dtype)
    if order == "F" or a.flags.f_contiguous:
        return empty(a.shape, dtype, "F")
    axes = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))   # outermost first
    strides, step = [0] * a.ndim, dtype.itemsize
    for i in reversed(axes):
        strides[i], step = step, step * a.shape[i]
    return empty(a.shape, dtype, strides=tuple(strides))


def host(a):
    """The NumPy view of a device array's memory (the emulator's 'device memory')."""
    return np.ndarray.view(a, np.ndarray)


def _memory(a):
    """The array made by the pool that ``a`` views (NumPy collapses views onto it)."""
    while isinstance(a, np.ndarray) and isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _is_view(result, inputs):
    base = _memory(result)
    return any(isinstance(a, _device_array()) and _memory(a) is base for a in _flat(inputs))


def _flat(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flat(o)
    elif isinstance(obj, dict):
        yield from _flat(list(obj.values()))
    else:
        yield obj


class _At:
    """What a graph node keeps of an array: its address, shape and strides; ``view()`` sees
    that memory again at each launch, whatever has become of the array."""

    def __init__(self, a):
        self.shape, self.strides, self.dtype = a.shape, a.strides, a.dtype
        address = a.__array_interface__["data"][0]
        low = sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s < 0)
        high = sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s > 0) + a.itemsize
        self.low, self.offset, self.span = address + low, -low, high - low
        self.size = a.size

    def view(self):
        if self.size == 0:
            return np.empty(self.shape, self.dtype)
        buffer = (ctypes.c_char * self.span).from_address(self.low)
        return np.ndarray(self.shape, self.dtype, buffer, self.offset, self.strides)


def _each(fn, obj):
    """``obj`` (an argument, or lists, tuples and dicts of them) with ``fn`` applied to each
    argument in it."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(_each(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _each(fn, v) for k, v in obj.items()}
    return fn(obj)


def _refs(obj):
    """``obj`` with each device array replaced by its address, as a graph node keeps it."""
    return _each(lambda x: _At(x) if isinstance(x, _device_array()) else x, obj)


def _views(obj):
    """The inverse, at a launch: each address seen as the memory it names."""
    return _each(lambda x: x.view() if isinstance(x, _At) else x, obj)


# ---- generic calls: CuPy's own kernels ----
def _device_operand(x):
    """x as a NumPy operand; a host array among device operands is CuPy's TypeError."""
    if isinstance(x, _device_array()):
        return host(x)
    if isinstance(x, np.ndarray):   # _kernel.pyx:147-156 -> _scalar.pyx:341-344
        raise TypeError(f"Unsupported type {type(x)}")
    return x


def _unwrap(obj):
    return _each(_device_operand, obj)


def _capturing():
    return streams.current()._capture is not None


def compute(name, fn, args, kwargs=None, kind="generic", layout="C"):
    """``fn(*args, **kwargs)`` as a CuPy call that makes a new array (or a view).

    The result's shape and dtype come from running ``fn`` now; its memory is C-ordered, as
    CuPy allocates a kernel's outputs (_kernel.pyx:1374-1375, core.pyx:289-299), or, with
    ``layout="K"``, in the order of the axes of NumPy's result (``astype``, ``copy``). While
    the stream captures, the new array's numbers do not exist yet: it is left poisoned (NaN
    where it can hold one), and the graph computes it, from the addresses of the operands, at
    each launch. A call given ``out=`` writes there instead (``write``).
    """
    kwargs = kwargs or {}
    if kwargs.get("out") is not None:
        write(name, fn, args, kwargs, kind)
        return kwargs["out"]
    capturing = _capturing()
    with np.errstate(all="ignore") if capturing else contextlib.nullcontext():
        result = fn(*_unwrap(args), **_unwrap(kwargs))
    refs = (_refs(args), _refs(kwargs)) if capturing else None
    return _to_device(name, kind, layout, result, (args, kwargs), refs, fn, ())


def _to_device(name, kind, layout, result, inputs, refs, fn, path):
    """The device array for ``result`` (part ``path`` of what ``fn`` returns): a view of an
    input as it is; new numbers in a block of the pool, written by a launch."""
    if isinstance(result, (list, tuple)):
        return type(result)(_to_device(name, kind, layout, r, inputs, refs, fn, path + (i,))
                            for i, r in enumerate(result))
    if isinstance(result, np.generic) or (type(result) is bool and name in DEVICE_BOOLS):
        result = np.asarray(result)   # CuPy returns 0-d arrays, not scalars
    if not isinstance(result, np.ndarray):
        return result
    if _is_view(result, inputs):
        return result.view(_device_array())
    out = empty_like(result, order="K" if layout == "K" else "C")
    record(kind, name)
    if refs is None:
        streams.submit(lambda: np.copyto(host(out), result))
        return out
    _poison(out)
    at = _At(out)

    def launch():
        value = fn(*_views(refs[0]), **_views(refs[1]))
        for i in path:
            value = value[i]
        np.copyto(at.view(), value)
    streams.submit(launch)
    return out


def _poison(a):
    """Memory no launch has written yet: NaN for floats, all bits set otherwise."""
    host(a).fill(np.nan if a.dtype.kind in "fc" else
                 np.frombuffer(b"\xff" * a.dtype.itemsize, a.dtype)[0])


def write(name, fn, args, kwargs=None, kind="generic"):
    """``fn(*args, **kwargs)`` as a CuPy call that writes into arrays that exist."""
    kwargs = kwargs or {}
    hargs, hkwargs = _unwrap(args), _unwrap(kwargs)   # host arrays refused here too
    record(kind, name)
    if _capturing():
        refs, krefs = _refs(args), _refs(kwargs)
        streams.submit(lambda: fn(*_views(refs), **_views(krefs)))
    else:
        streams.submit(lambda: fn(*hargs, **hkwargs))


# ---- between host and device ----
def to_host(a, name, stream=None, blocking=True):
    """A device array's numbers on the host (core.pyx:2098-2208): CuPy's guard on the stream
    of the copy (memory.pyx:709-719), then the copy, which waits for the stream unless told
    not to (core.pyx:2204-2205)."""
    stream = streams.current() if stream is None else stream
    streams.guard_transfer("D2H", stream)
    record("d2h", name)
    if blocking:
        streams.host_waited(stream)
    return np.array(host(a))


def from_host(array, name, dtype=None, order="K"):
    """A host array copied to a new device array (core.pyx:3040-3103): CuPy's guard
    (memory.pyx:611-621), then the copy. A scalar goes by ``fill`` (core.pyx:3068-3070)."""
    array = np.array(array, dtype=dtype, order=order, copy=None)
    if array.ndim == 0:
        out = empty((), array.dtype)
        write("fill", np.ndarray.fill, (out, array[()]))
        return out
    streams.guard_transfer("H2D")
    record("h2d", name)
    out = empty_like(array)
    host(out)[...] = array
    return out


def _read_a_count(name):
    """_routines_indexing.pyx:123 and 802: CuPy reads on the host how many elements are
    selected, ``int(scan[-1])``: a device-to-host copy in the middle of the call."""
    streams.guard_transfer("D2H")
    record("d2h", name)


# ---- products ----
def matmul(a, b, out=None, name="matmul"):
    """``cupy.matmul`` and ``@`` (_routines_linalg.pyx:821-1071), and ``dot`` of at most two
    dimensions: cuBLAS, unless CuPy's own kernels do it."""
    for x in (a, b):
        _device_operand(x)
    nd = max(a.ndim, b.ndim)
    one = nd <= 2 and (a.ndim == 1 or a.shape[0] == 1) and (b.ndim == 1 or b.shape[-1] == 1)
    kind = "gemm"
    if np.result_type(a, b).kind in "biu" or a.size == 0 or b.size == 0 or one:
        kind = "generic"   # _routines_linalg.pyx:557-578, 615-624, 955-963, 992-1001
    else:
        for x in (a, b):   # copied first, then refused: the copies are captured
            if not (x.flags.c_contiguous or (nd <= 2 and x.flags.f_contiguous)):
                compute(f"{name}'s copy", np.ascontiguousarray, (x,))
        streams.guard_library("cuBLAS")
        name = f"{name} {max(nd, 2)}-D"
    if out is not None:
        write(name, np.matmul, (a, b), {"out": out}, kind)
        return out
    return compute(name, np.matmul, (a, b), kind=kind)


# ---- NumPy's functions as CuPy's generic calls ----
_SPECIAL = {}   # functions whose CuPy form differs from a generic call on NumPy's


def _function(fn, path=None):
    """A function of the double: ``fn`` (NumPy's) as CuPy's generic call of that name."""
    name = path or fn.__name__
    if name in _SPECIAL:
        return _SPECIAL[name]

    def call(*args, **kwargs):
        if name in READ_A_COUNT or (name == "where" and len(args) + len(kwargs) == 1):
            _read_a_count(name)
        if name in IN_PLACE:
            write(name, fn, args, kwargs)
            return None
        return compute(name, fn, args, kwargs)
    call.__name__ = fn.__name__
    return call
