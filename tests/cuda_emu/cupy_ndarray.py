"""``DeviceArray``, the CuPy double's ``cupy.ndarray``: its attributes, its methods as CuPy's
generic calls, and the functions that make one from an array or from the host.

Every rule cites CuPy at tag v14.2.0 by file and line (see cupy_double); the calls
themselves run as cupy_kernels runs them.

- Arrays (``DeviceArray``): only cupy.ndarray's public attributes (core.pyx:213-2393);
  ``flags`` with c_contiguous, f_contiguous, owndata, fnc, forc (flags.pyx:4-46); ``data`` a
  MemoryPointer (core.pxd:22); reductions and integer indexing give 0-d device arrays, the
  latter a view; ``bool()`` of an array of several elements is a ValueError (core.pyx:
  1529-1541); no ``__index__``.
"""
import warnings

import numpy as np

from . import cupy_streams as streams
from .cupy_kernels import (_flat, _function, _read_a_count, compute, from_host, host, matmul,
                           to_host, write)
from .cupy_names import (IN_PLACE_METHODS, NDARRAY_ATTRIBUTES, READ_A_COUNT, TO_HOST, _check_name,
                         _cupy, _path)
from .cupy_streams import Unmodelled
from .our_rules import record


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


# ---- arrays from arrays, or from the host ----
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
