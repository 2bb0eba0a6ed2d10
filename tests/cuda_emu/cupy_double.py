"""A CuPy double: NumPy memory under CuPy 14.2's rules, to run the GPU path without a GPU.

``install`` puts ``module`` where ``minigan.backend`` keeps CuPy. Tensors on device 'cuda'
then hold ``DeviceArray``s, every generic call (``xp.maximum``, ``a.sum()``) runs in NumPy
under the rules of the parts below, our kernels run on the emulator (tests/cuda_emu), and the library
takes exactly the code paths of a GPU run. When work runs (streams, captures, graphs, the
memory pool) is cupy_streams' part.

Every rule cites CuPy at tag v14.2.0 by file and line (paths under cupy/ or cupy_backends/),
or the CuPy test that pins it; tests/test_cupy_rules*.py port those tests. The double is
neither looser nor stricter than CuPy where it models a behaviour, and raises
``cupy_streams.Unmodelled`` where it does not. What minigan asks of itself beyond CuPy's rules
(no generic call in a training step, a graph's memory kept alive) is counted by our_rules,
not refused here.

The parts, each module below the ones that import it (and cupy_streams below them all):
- cupy_names: which names CuPy has (ndarray's attributes, in-place calls, reads of a count);
- cupy_kernels: CuPy's own kernels (generic calls, copies between host and device, products)
  on memory from the pool;
- cupy_ndarray: ``DeviceArray``, cupy.ndarray's surface, and ``asarray``, ``array``;
- this module: the ``cupy`` namespace (``module``), ``cupy.random``, kernel arguments and
  ``install``.

The names other code takes from here stay here: ``module``, ``install``, ``pack``, ``empty``,
``host``, ``NDARRAY_ATTRIBUTES``, ``DeviceArray``.

The rules of this module:
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
import types

import numpy as np

from . import cupy_streams as streams
from .cupy_kernels import _SPECIAL, _device_operand, _function, empty, empty_like, host, matmul
from .cupy_names import NDARRAY_ATTRIBUTES, _check_name, _cupy
from .cupy_ndarray import Device, DeviceArray, MemoryPointer, array, asarray, ascontiguousarray, dot
from .cupy_streams import Unmodelled
from .our_rules import record


# ---- the module ----
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


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, DeviceArray):
        return a.get(stream, order, out, blocking)
    return np.asarray(a, order=order)


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
