"""A CuPy double: NumPy memory under CuPy 14.2's rules, to run the GPU path without a GPU.

``install`` puts ``module`` where ``minigan.backend`` keeps CuPy. Tensors on device 'cuda'
then hold ``DeviceArray``s, every generic call (``xp.maximum``, ``a.sum()``) runs in NumPy
under the rules below, our kernels run on the emulator (tests/cuda_emu), and the library
takes exactly the code paths of a GPU run. When work runs (streams, captures, graphs, the
memory pool) is cupy_streams' part.

Every rule cites CuPy at tag v14.2.0 by file and line (paths under cupy/ or cupy_backends/),
or the CuPy test that pins it; tests/test_cupy_rules.py ports those tests. The double is
neither looser nor stricter than CuPy where it models a behaviour, and raises
``cupy_streams.Unmodelled`` where it does not. What minigan asks of itself beyond CuPy's rules
(no generic call in a training step, a graph's memory kept alive) is counted by our_rules,
not refused here.

The rules:
- Arrays (``DeviceArray``): only cupy.ndarray's public attributes (core.pyx:213-2393);
  ``flags`` with c_contiguous, f_contiguous, owndata, fnc, forc (flags.pyx:4-46); ``data`` a
  MemoryPointer (core.pxd:22); reductions and integer indexing give 0-d device arrays, the
  latter a view; ``bool()`` of an array of several elements is a ValueError (core.pyx:
  1529-1541); no ``__index__``.
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
- Kernel arguments (``pack``, as cupy/cuda/function.pyx:53-82 packs them): a device array
  goes as its data pointer (core.pyx:2434-2440, the first member of its CArray), None as a
  NULL pointer, a NumPy scalar as its own bytes, a Python int as an int64 (uint64 from 2**63),
  a float as a double, a bool as one byte (_scalar.pyx:302-317); a host array of one element
  by value, of any other size a TypeError; anything else ``TypeError: Unsupported type``.
  CuPy checks nothing against the kernel's parameters: a kernel reads the bytes it declares.

What it cannot mimic: ``numpy.asarray(device_array)`` and ``memoryview(device_array)``,
which CuPy refuses (core.pyx:448-455, 1803-1809) and NumPy never asks a subclass about;
``isinstance(device_array, numpy.ndarray)``, True here; keyword arguments of generic calls,
passed on unchecked (CuPy refuses ``where=`` and others, _kernel.pyx:1268-1277); advanced
indices out of bounds, an IndexError here where CuPy wraps them (core.pyx:1843-1844); speed.
"""
import contextlib
import ctypes
import types
import warnings

import numpy as np

from . import cupy_streams as streams
from .cupy_streams import Unmodelled
from .our_rules import record

try:   # only for its names: which functions and methods the installed CuPy has
    import cupy as _cupy
except Exception:
    _cupy = None

# The public attributes of CuPy 14.2's ndarray (core.pyx:213-2393, core.pxd:13-25; checked
# against the installed CuPy by tests/test_emulator.py). Any other public one is NumPy's alone.
NDARRAY_ATTRIBUTES = frozenset("""
    T all any argmax argmin argpartition argsort astype base byteswap choose clip compress
    conj conjugate copy cstruct cumprod cumsum data device diagonal dot dtype dump dumps fill
    flags flat flatten get imag item itemsize mT max mdspan mean min nbytes ndim nonzero
    partition prod ptp put ravel real reduced_view repeat reshape round scatter_add
    scatter_max scatter_min searchsorted set shape size sort squeeze std strides sum swapaxes
    take toDlpack tobytes tofile tolist trace transpose var view""".split())
# Methods, and functions, that write into an array they are given
IN_PLACE_METHODS = frozenset("sort partition put".split())
IN_PLACE = frozenset("copyto putmask place put put_along_axis fill_diagonal".split())
# Calls that read a count on the host, a device-to-host copy in the middle: nonzero, where(cond),
# argwhere, compress (_routines_indexing.pyx:123), unique (cupy/_manipulation/add_remove.py:
# 324), trim_zeros (add_remove.py:184-186), bincount (cupy/_statistics/histogram.py:560),
# extract (cupy/_indexing/indexing.py:162, through nonzero)
READ_A_COUNT = frozenset("nonzero argwhere flatnonzero compress unique trim_zeros bincount "
                         "extract".split())
TO_HOST = frozenset("dump dumps tofile".split())
# NumPy answers these with a Python bool, CuPy with a 0-d device array
# (cupy/_logic/comparison.py:63, 99)
DEVICE_BOOLS = frozenset("allclose array_equal array_equiv".split())


# ---- device memory: CuPy's pool (cupy_streams.Pool) ----
def empty(shape, dtype=float, order="C", strides=None):
    """``cupy.empty``: a block of the pool, no launch (cupy/_creation/basic.py:15-34)."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    dtype = np.dtype(dtype)
    return streams.pool.malloc(
        int(np.prod(shape, dtype=np.int64)) * dtype.itemsize,
        lambda buffer: DeviceArray(shape, dtype, buffer, strides=strides, order=order))


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
    return any(isinstance(a, DeviceArray) and _memory(a) is base for a in _flat(inputs))


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
    return _each(lambda x: _At(x) if isinstance(x, DeviceArray) else x, obj)


def _views(obj):
    """The inverse, at a launch: each address seen as the memory it names."""
    return _each(lambda x: x.view() if isinstance(x, _At) else x, obj)


# ---- generic calls: CuPy's own kernels ----
def _device_operand(x):
    """x as a NumPy operand; a host array among device operands is CuPy's TypeError."""
    if isinstance(x, DeviceArray):
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
        return result.view(DeviceArray)
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


# ---- the array ----
class Flags:
    """``cupy.ndarray.flags`` (flags.pyx:4-46; owndata is ``base is None``, core.pyx:493-505)."""
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, flags, owndata):
        self.c_contiguous, self.f_contiguous = flags.c_contiguous, flags.f_contiguous
        self.owndata = owndata

    @property
    def fnc(self):
        return self.f_contiguous and not self.c_contiguous

    @property
    def forc(self):
        return self.f_contiguous or self.c_contiguous

    def __getitem__(self, name):
        keys = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
                "OWNDATA": "owndata"}
        if name not in keys:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, keys[name])


class MemoryPointer:
    """``cupy.ndarray.data``: the address (with the view's offset), not a buffer."""

    def __init__(self, ptr):
        self.ptr = ptr


class Device:
    """``cupy.cuda.Device`` (device.pyx)."""

    def __init__(self, device=0):
        self.id = int(device)
        self.compute_capability = "90"

    def synchronize(self):   # device.pyx:199-207
        streams.device_synchronize()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


# Methods of NumPy's own, in C, that CuPy's ndarray has too: each a generic call here
_CALLS = frozenset(NDARRAY_ATTRIBUTES & set(dir(np.ndarray))) - frozenset(
    "T base data device dtype flags flat imag itemsize mT nbytes ndim real shape size "
    "strides".split())
_ARRAY_ONLY = NDARRAY_ATTRIBUTES - set(dir(np.ndarray))   # cstruct, get, scatter_add...


class DeviceArray(np.ndarray):
    """A ``cupy.ndarray`` stand-in: pool memory, CuPy's attributes and rules."""

    def __getattribute__(self, name):
        if name[0] == "_" or name in _OWN:
            return super().__getattribute__(name)
        if name not in NDARRAY_ATTRIBUTES:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        if name in _ARRAY_ONLY:
            raise Unmodelled(f"cupy.ndarray.{name}")
        if name in _CALLS:
            return _method(self, name)
        return super().__getattribute__(name)

    @property
    def flags(self):
        return Flags(np.ndarray.flags.__get__(self), self.base is None)

    @property
    def base(self):
        """None for an array the pool made, else the array it views (core.pxd:25)."""
        base = np.ndarray.base.__get__(self)
        while isinstance(base, np.ndarray) and not isinstance(base, DeviceArray):
            base = base.base
        return base if isinstance(base, DeviceArray) else None

    @property
    def data(self):
        return MemoryPointer(self.__array_interface__["data"][0])

    @property
    def device(self):   # core.pyx:2093-2096
        return Device(0)

    @property
    def __cuda_array_interface__(self):
        interface = dict(self.__array_interface__, version=3)
        interface.pop("descr", None)
        return interface

    # ---- between host and device ----
    def get(self, stream=None, order="C", out=None, blocking=True):
        """core.pyx:2098-2208: nothing to copy for no elements (2170-2171); a view that is not
        dense is first copied on the device."""
        if self.size == 0 and out is None:
            return np.ndarray(self.shape, self.dtype)
        if not (self.flags.c_contiguous or self.flags.f_contiguous):
            self = compute("get's copy", np.ascontiguousarray, (self,))
        result = to_host(self, "get", stream, blocking)
        if out is not None:
            out[...] = result
            return out
        return result

    def set(self, arr, stream=None):
        """core.pyx:2210-2244."""
        if not isinstance(arr, np.ndarray) or isinstance(arr, DeviceArray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if self.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if not (self.flags.c_contiguous or self.flags.f_contiguous):
            raise RuntimeError("Cannot set to non-contiguous array")
        streams.guard_transfer("H2D", stream)
        record("h2d", "set")
        host(self)[...] = arr

    def item(self):   # core.pyx:680-692
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.get().item()

    def tolist(self):   # core.pyx:694-703
        return self.get().tolist()

    def __float__(self):   # core.pyx:2048-2055
        return float(self.get())

    def __int__(self):
        return int(self.get())

    def __complex__(self):
        return complex(self.get())

    def __bool__(self):   # core.pyx:1529-1541
        if self.size == 0:
            warnings.warn("The truth value of an empty array is ambiguous. Returning False, "
                          "but in future this will result in an error. Use `array.size > 0` "
                          "to check that an array is not empty.", DeprecationWarning)
            return False
        if self.size > 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        return bool(self.get())

    def __index__(self):   # not a method of cupy.ndarray (core.pyx)
        raise TypeError("'cupy.ndarray' object cannot be interpreted as an integer")

    # core.pyx:1796-1797, 2063-2075: through get()
    def __repr__(self):
        return repr(self.get())

    def __str__(self):
        return str(self.get())

    def __format__(self, spec):
        return format(self.get(), spec)

    def __bytes__(self):
        return bytes(self.get())

    def __reduce__(self):
        return array, (self.get(order="A"),)

    @property
    def flat(self):
        raise Unmodelled("cupy.ndarray.flat")

    def tobytes(self, order="C"):
        return self.get().tobytes(order)

    # ---- generic calls that CuPy makes methods of its own ----
    def __getitem__(self, key):
        """Basic indexing is a view, also of one element (a 0-d array); index arrays gather
        with a kernel of CuPy's (_routines_indexing.pyx); a boolean mask counts on the host."""
        if _basic(key):
            keys = key if isinstance(key, tuple) else (key,)
            if Ellipsis not in keys:   # NumPy's own way to a 0-d view
                keys = keys + (Ellipsis,)
            return np.ndarray.__getitem__(self, keys)
        key = _index(key)
        return compute("getitem", np.ndarray.__getitem__, (self, key))

    def __setitem__(self, key, value):
        """_routines_indexing.pyx:1064-1110: a basic index fills with a scalar or copies a
        device array, and refuses a host array that is not a scalar (1088-1093); an advanced
        index takes a host value, copied to the device first (916-917)."""
        if _basic(key):
            if not isinstance(value, DeviceArray):   # fill's own check, core.pyx:1016-1019
                value = np.asarray(value, dtype=self.dtype)
                if value.shape != ():
                    raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
                value = value[()]
        else:
            key = _index(key)
            if isinstance(value, (np.ndarray, list, tuple)) and \
                    not isinstance(value, DeviceArray):
                value = from_host(value, "setitem's value")
        write("setitem", np.ndarray.__setitem__, (self, key, value))

    def copy(self, order="C"):   # core.pyx:885-887: astype, a copy kernel
        return compute("copy", np.ndarray.copy, (self, order), layout=order)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        """core.pyx:760-770: order 'K' keeps the order of the axes."""
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return compute("astype", np.ndarray.astype, (self, dtype, order), layout=order)

    def fill(self, value):
        """core.pyx:1000-1028: a scalar only."""
        if isinstance(value, DeviceArray):
            if value.shape != ():
                raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
        elif np.asarray(value).shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        write("fill", np.ndarray.fill, (self, value))

    def __iter__(self):   # core.pyx:1821-1824
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def view(self, *args, **kwargs):
        return np.ndarray.view(self, *args, **kwargs)

    @property
    def T(self):
        return np.ndarray.transpose(self)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        """Operators and NumPy's ufuncs on device arrays: CuPy's ufunc of the same name
        (core.pyx:1969-2026), so host arrays among the inputs are its TypeError."""
        _check_name(_cupy, ufunc.__name__, "cupy")
        if method != "__call__":
            _check_name(getattr(_cupy, ufunc.__name__, None), method, f"cupy.{ufunc.__name__}")
        if out is not None:
            out = out[0] if len(out) == 1 else out
        if ufunc is np.matmul and method == "__call__":
            return matmul(*inputs, out=out)
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        fn = getattr(ufunc, method)
        if name in _COMPARISONS:   # core.pyx:2014-2023: a 0-d host array as its number
            inputs = [x.item() if type(x) is np.ndarray and x.ndim == 0 else x for x in inputs]
        if method == "at":   # add.at(a, key, values): in place, host values copied over
            a, key, *rest = inputs
            write(name, fn, (a, _index(key), *map(_to_device_value, rest)))
            return None
        if out is not None:
            write(name, fn, inputs, dict(kwargs, out=out))
            return out
        return compute(name, fn, inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        """np.concatenate(device arrays) and friends: CuPy's function of the same path
        (core.pyx:2028-2044)."""
        return _function(func, _path(func.__module__, func.__name__))(*args, **kwargs)


_COMPARISONS = frozenset("greater greater_equal less less_equal equal not_equal".split())


def _to_device_value(x):
    """An index or value that CuPy copies to the device (``core.array``) when it is the
    host's: _routines_indexing.pyx:162-167, 856-858, 916-917."""
    if isinstance(x, (np.ndarray, list, tuple)) and not isinstance(x, DeviceArray):
        return from_host(np.asarray(x), "index or value")
    return x


def dot(a, b, out=None):
    """cupy.dot and ndarray.dot: matmul for at most two dimensions (_routines_linalg.pyx:
    475-538); tensordot's rules beyond, and a product with a scalar, are not modelled."""
    if not (1 <= a.ndim <= 2 and 1 <= np.ndim(b) <= 2):
        raise Unmodelled("cupy.dot of a scalar or of more than two dimensions")
    return matmul(a, b, out, "dot")


def _method(a, name):
    """One of NumPy's methods that CuPy's ndarray has too, as CuPy's call."""
    method = getattr(np.ndarray, name)
    if name in TO_HOST:
        return lambda *args, **kwargs: getattr(a.get(), name)(*args, **kwargs)
    if name == "dot":
        return lambda b, out=None: dot(a, b, out)

    def call(*args, **kwargs):
        if name in ("take", "put"):
            args = tuple(map(_to_device_value, args))
        if name == "put":   # CuPy's default mode wraps (core.pyx, ndarray.put)
            kwargs.setdefault("mode", "wrap")
        if name in READ_A_COUNT or (name == "put" and kwargs.get("mode", "wrap") == "raise"):
            _read_a_count(name)
        if name in IN_PLACE_METHODS:
            return write(name, method, (a, *args), kwargs)
        return compute(name, method, (a, *args), kwargs)
    return call


_OWN = frozenset(n for n in vars(DeviceArray) if not n.startswith("_"))   # ours, above


def _basic(key):
    """True for an index of ints, slices, None and Ellipsis: a view, no kernel."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice))
               for k in keys)


def _index(key):
    """An advanced index as CuPy takes it: a host index array or list is copied to the device
    (_routines_indexing.pyx:290-291); a boolean mask is counted on the host (802)."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, (list, np.ndarray)) and not isinstance(key, DeviceArray):
        key = from_host(np.asarray(key), "index")
    if isinstance(key, DeviceArray) and key.dtype == bool:
        _read_a_count("boolean mask")
    return key


# ---- the module ----
def _check_name(cupy_object, name, where):
    if _cupy is not None and not hasattr(cupy_object, name):
        raise AttributeError(f"'{where}' has no attribute '{name}' in the installed CuPy "
                             f"{_cupy.__version__}")


def _path(numpy_path, name):
    """numpy.fft.fft -> 'fft.fft', checked against the installed CuPy; what NumPy keeps in a
    private module (numpy._core.fromnumeric) CuPy has at its top level."""
    parts = []
    for part in numpy_path.split(".")[1:]:
        if part.startswith("_"):
            parts = []
            break
        parts.append(part)
    target = _cupy
    for part in parts:
        target = getattr(target, part, None)
    _check_name(target, name, "cupy")
    return ".".join(parts + [name])


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


class _Ufunc:
    """A ufunc of the double: NumPy's ufunc under CuPy's rules; its methods checked
    against CuPy's."""

    def __init__(self, ufunc):
        self.ufunc, self.__name__ = ufunc, ufunc.__name__

    def __call__(self, *args, out=None, **kwargs):
        for a in args:
            _device_operand(a)
        return DeviceArray.__array_ufunc__(None, self.ufunc, "__call__", *args,
                                           out=None if out is None else (out,), **kwargs)

    def __getattr__(self, method):
        _check_name(getattr(_cupy, self.ufunc.__name__, None), method,
                    f"cupy.{self.ufunc.__name__}")
        return lambda *args, **kwargs: DeviceArray.__array_ufunc__(
            None, self.ufunc, method, *args, **kwargs)


class _Namespace(types.ModuleType):
    """``cupy`` (or ``cupy.fft``...): NumPy's object of the same path, under CuPy's rules."""

    def __init__(self, path, numpy_module, cupy_module):
        super().__init__(path)
        self._numpy, self._cupy_module = numpy_module, cupy_module

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if _cupy is not None and not hasattr(self._cupy_module, name):
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}' (CuPy "
                                 f"{_cupy.__version__})")
        obj = getattr(self._numpy, name)
        if isinstance(obj, types.ModuleType):
            obj = _Namespace(f"{self.__name__}.{name}", obj, getattr(self._cupy_module, name,
                                                                     None))
        elif isinstance(obj, np.ufunc):
            obj = _Ufunc(obj)
        elif callable(obj) and not isinstance(obj, type):
            path = self.__name__.partition(".")[2]
            obj = _function(obj, f"{path}.{name}" if path else name)
        setattr(self, name, obj)   # dtypes, scalar types and constants pass as they are
        return obj


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """cupy/_creation/from_data.py:59-94: a device array of that dtype as it is; else a copy
    (from the host, or CuPy's astype)."""
    if isinstance(a, DeviceArray):
        if (dtype is None or np.dtype(dtype) == a.dtype) and order in (None, "K", "A"):
            return a
        return compute("astype", np.ndarray.astype, (a, a.dtype if dtype is None else dtype,
                                                     order or "K"))
    return from_host(a, "asarray", dtype, order or "K")


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """core.pyx:2821-2841: device arrays copied (or stacked, 2958-2971) by CuPy's kernels, or
    the host's numbers copied over."""
    if any(isinstance(x, DeviceArray) for x in _flat(obj)):
        return compute("array", np.array, (obj,), dict(dtype=dtype, order=order, ndmin=ndmin))
    return from_host(np.array(obj, dtype=dtype, ndmin=ndmin), "array", order=order)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, DeviceArray):
        return a.get(stream, order, out, blocking)
    return np.asarray(a, order=order)


def ascontiguousarray(a, dtype=None):
    """core.pyx:3221-3239: the array itself when C-ordered and of the dtype, else a copy."""
    if not isinstance(a, DeviceArray):
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy._core.core."
                        f"_ndarray_base, got {type(a).__name__})")
    if a.ndim == 0:   # core.pyx:3231-3233: one dimension at least
        a = a.reshape(1)
    if a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return compute("ascontiguousarray", np.ascontiguousarray, (a,),
                   {} if dtype is None else {"dtype": dtype})


def get_array_module(*arrays):
    return module if any(isinstance(a, DeviceArray) for a in arrays) else np


def _unmodelled(name):
    def refuse(*args, **kwargs):
        raise Unmodelled(f"cupy.{name}")
    return refuse


class _Random:
    """``cupy.random``: cuRAND behind it (curand.pyx:140-149), so refused while a stream
    captures (test_graph test_stream_capture_failure_curand). The numbers are NumPy's, from a
    generator of the double's own: the user's global NumPy state is left alone."""

    def __init__(self):
        self.generator = np.random.default_rng(0)

    def seed(self, seed=None):
        self.generator = np.random.default_rng(seed)

    def _draw(self, name, draw, size, dtype):
        streams.guard_library("cuRAND")
        record("generic", f"random.{name}")
        numbers = np.asarray(draw(size), dtype)
        out = empty_like(numbers)
        host(out)[...] = numbers   # made on the device: no copy from the host
        return out

    def random(self, size=None, dtype=float):
        return self._draw("random", self.generator.random, size, dtype)

    random_sample = random

    def standard_normal(self, size=None, dtype=float):
        return self._draw("standard_normal", self.generator.standard_normal, size, dtype)

    def rand(self, *size, dtype=float):
        return self.random(size, dtype)

    def randn(self, *size, dtype=float):
        return self.standard_normal(size, dtype)


for _name, _fn in dict(matmul=matmul, dot=dot,
                       asarray=asarray, array=array, ascontiguousarray=ascontiguousarray,
                       empty=empty, empty_like=empty_like).items():
    _SPECIAL[_name] = _fn
for _name in ("tensordot", "inner", "vdot", "einsum", "linalg.svd", "linalg.inv"):
    _SPECIAL[_name] = _unmodelled(_name)

module = _Namespace("cupy", np, _cupy)
module.__version__ = _cupy.__version__ if _cupy is not None else "double"
module.ndarray = DeviceArray
for _name, _fn in _SPECIAL.items():
    if "." not in _name:
        setattr(module, _name, _fn)
module.asnumpy, module.get_array_module = asnumpy, get_array_module
module.random = _Random()
module.cuda = types.SimpleNamespace(
    runtime=types.SimpleNamespace(
        getDeviceCount=lambda: 1, deviceSynchronize=Device(0).synchronize,
        getDeviceProperties=lambda i: {"name": b"CuPy double"},
        CUDARuntimeError=streams.CUDARuntimeError, runtimeGetVersion=lambda: 13000),
    Stream=streams.Stream, Event=streams.Event, get_elapsed_time=streams.get_elapsed_time,
    Graph=streams.Graph, Device=Device, get_current_stream=lambda device_id=-1:
    streams.current())


# ---- kernel arguments, as CuPy packs them ----
def pack(arg):
    """One kernel argument as the bytes cuLaunchKernel reads (function.pyx:53-82)."""
    if arg is None:                                  # function.pyx:54-55: NULL
        return np.uint64(0).tobytes()
    if isinstance(arg, DeviceArray):                 # function.pyx:56-57, core.pyx:2434-2440
        return np.uint64(arg.__array_interface__["data"][0]).tobytes()
    if isinstance(arg, MemoryPointer):               # function.pyx:60-61
        return np.uint64(arg.ptr).tobytes()
    if isinstance(arg, np.ndarray):                  # function.pyx:66-79
        if arg.size != 1:
            raise TypeError(f"You are trying to pass a numpy.ndarray of shape {arg.shape} as a "
                            f"kernel parameter. Only numpy.ndarrays of size one can be passed "
                            f"by value. If you meant to pass a pointer to __global__ memory, "
                            f"you need to pass a cupy.ndarray instead.")
        return arg.tobytes()
    if isinstance(arg, np.generic):                  # _scalar.pyx:339-340: its own dtype
        return arg.tobytes()
    if type(arg) is bool:                            # _scalar.pyx:302-317
        return np.bool_(arg).tobytes()
    if type(arg) is int:
        return (np.uint64(arg) if arg >= 2 ** 63 else np.int64(arg)).tobytes()
    if type(arg) is float:
        return np.float64(arg).tobytes()
    if type(arg) is complex:
        return np.complex128(arg).tobytes()
    raise TypeError(f"Unsupported type {type(arg)}")   # _scalar.pyx:341-344


def install(monkeypatch):
    """Put the double where minigan keeps CuPy, for one test (undone by ``monkeypatch``), on
    a fresh device: the default stream current, no capture, an empty pool."""
    from minigan import backend
    streams.reset()
    monkeypatch.setattr(backend, "cupy", module)
