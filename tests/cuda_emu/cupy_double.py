"""A CuPy double: NumPy underneath, CuPy's rules on top, to run the GPU path without a GPU.

``install`` puts ``module`` where ``minigan.backend`` keeps CuPy. Tensors on device 'cuda'
then hold ``DeviceArray``s, every generic call (``xp.maximum``, ``a.sum()``) runs in NumPy
through the rules below, and our kernels run on the emulator (``cuda_emu.EmulatorRuntime``).
The library takes exactly the code paths of a GPU run.

It refuses what CuPy refuses:
- array attributes that only NumPy has (``flags.writeable``, ``ctypes``, ``tostring``...):
  AttributeError, as on a ``cupy.ndarray``;
- host NumPy arrays mixed into device math (``xp.maximum(device, host)``): TypeError, as
  CuPy's "Unsupported type";
- names the installed CuPy lacks (``cupy.put_along_axis`` before CuPy 14): AttributeError,
  checked against the installed CuPy when there is one;
and it behaves as CuPy where NumPy differs: reductions and integer indexing give 0-d device
arrays, not NumPy scalars, and ``flags`` has only c_contiguous, f_contiguous and owndata.

What it cannot refuse or mimic:
- ``np.asarray(device_array)`` (NumPy never asks a subclass), and
  ``isinstance(device_array, np.ndarray)``, which is True;
- keyword arguments of generic calls, which are passed on unchecked;
- the memory behind a 0-d result of integer indexing, a copy here and a view in CuPy, and
  ``owndata``, which follows NumPy's views;
- anything about speed, streams or memory that only a GPU shows.

It also counts (``counting()``): every call that would launch one of CuPy's own kernels
(an elementwise op, a reduction, a copy or a fill: "generic"), every matrix product,
every copy between host and device, and every launch of our kernels. A CuPy call costs
about 46 µs of host time against 8 µs for one of ours, so a training step's hot path
must make none (tests/test_launch_count.py).
"""
import collections
import contextlib
import ctypes
import time
import types
import weakref

import numpy as np

try:   # only for its names: which functions and methods the installed CuPy has
    import cupy as _cupy
except Exception:
    _cupy = None

# ---- counting what a run asks of the GPU ----
class Calls:
    """What a block of code asked of the (emulated) GPU, by kind, each call by name:
    ``generic`` (CuPy's own elementwise, reduction, copy and fill kernels), ``gemm``
    (matrix products), ``h2d`` and ``d2h`` (copies between host and device; a read such as
    ``.item()`` also waits for the GPU) and ``kernel`` (ours, through minigan.cuda.launch)."""
    KINDS = ("generic", "gemm", "h2d", "d2h", "kernel")

    def __init__(self):
        self.names = {kind: collections.Counter() for kind in self.KINDS}

    def add(self, kind, name):
        self.names[kind][name] += 1

    def __getitem__(self, kind):
        return sum(self.names[kind].values())

    def __repr__(self):
        return ", ".join(f"{kind} {self[kind]} {dict(self.names[kind])}" for kind in self.KINDS)


_recording = []   # the Calls objects of the open counting() blocks


def record(kind, name):
    for calls in _recording:
        calls.add(kind, name)
    if _capture is not None and kind != "kernel" and kind != "gemm":
        raise RuntimeError(f"cudaErrorStreamCaptureUnsupported: {kind} call {name!r} while a "
                           f"stream is being captured (the emulator replays our kernels and "
                           f"products only; a GPU cannot copy to or from the host in a graph)")


# ---- stream capture: CUDA graphs, emulated ----
_capture = None   # while a stream captures: the list of what its graph will run


def capturing():
    return _capture is not None


def defer(run):
    """Run ``run()`` now, or while a stream captures, keep it for the graph instead."""
    if _capture is None:
        run()
    else:
        _capture.append(run)


_made = []   # while a stream captures: a weak reference to the memory of each array it makes


def _made_in_capture(array):
    """Remember ``array``'s memory, made while a stream captures: it must outlive the graph."""
    if _capture is not None:
        owner = array
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        _made.append(weakref.ref(owner))


def _at_address(a):
    """What a graph node keeps of an array: a function that views its memory again, by address,
    shape and strides; the array itself may go (``_check_alive`` says if it went too soon)."""
    address, shape, strides, dtype = a.__array_interface__["data"][0], a.shape, a.strides, a.dtype
    assert min(strides, default=0) >= 0, "a product's operand with a negative stride"
    span = sum((n - 1) * s for n, s in zip(shape, strides)) + dtype.itemsize
    return lambda: np.ndarray(shape, dtype, buffer=(ctypes.c_char * span).from_address(address),
                              strides=strides)


def _check_alive(made, when):
    """On a GPU the graph writes, at every launch, where its arrays were during the capture. One
    freed since is a block that CuPy's pool hands out again: refused, as the emulator cannot
    show the corruption that would follow."""
    freed = sum(ref() is None for ref in made)
    if freed:
        raise RuntimeError(f"{freed} of the {len(made)} arrays made during a capture were freed "
                           f"{when}: CuPy's pool would give their memory out again while the "
                           f"graph still writes it")


class Graph:
    """``cupy.cuda.Graph``: what a capture recorded, run again in order by ``launch``."""

    def __init__(self, ops, made):
        self.ops, self.made = ops, made

    def launch(self, stream=None):
        _check_alive(self.made, "before a launch of the graph")
        for op in self.ops:
            op()


class Stream:
    """``cupy.cuda.Stream``: work runs at once here, except while it captures."""
    null = None

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.capturing_ops = None

    def __enter__(self):
        _streams.append(self)
        return self

    def __exit__(self, *exc):
        _streams.pop()

    def synchronize(self):
        if _capture is not None:
            raise RuntimeError("cudaErrorStreamCaptureUnsupported: synchronize during capture")
        _synchronize_device()

    def begin_capture(self, mode=None):
        global _capture
        if self is Stream.null:
            raise RuntimeError("cudaErrorStreamCaptureUnsupported: the legacy default stream "
                               "cannot be captured")
        if _capture is not None:
            raise RuntimeError("cudaErrorIllegalState: a capture is under way already")
        _capture = []

    def end_capture(self):
        global _capture, _made
        ops, _capture = _capture, None
        made, _made = _made, []
        _check_alive(made, "before the capture ended")
        return Graph(ops, made)

    def is_capturing(self):
        return _capture is not None


Stream.null = Stream(null=True)
_streams = [Stream.null]


def get_current_stream():
    return _streams[-1]


@contextlib.contextmanager
def counting():
    """``with counting() as calls:`` ... ``calls["generic"]``: what the block asked for."""
    calls = Calls()
    _recording.append(calls)
    try:
        yield calls
    finally:
        _recording.remove(calls)


# Calls that allocate, or make a view, and launch nothing
NO_LAUNCH = frozenset("empty empty_like shape ndim result_type can_cast dtype".split())
PRODUCTS = frozenset("matmul dot tensordot inner outer einsum vdot".split())


def _record_call(name, result, inputs):
    """Record a generic call unless it launched nothing: an allocation, or a view of an input."""
    if name in ("empty", "empty_like"):
        _made_in_capture(result)
    if name in PRODUCTS:
        record("gemm", name)
    elif name not in NO_LAUNCH and not _is_view(result, inputs):
        record("generic", name)


def _record_matmul(a, b):
    """cupy.matmul as CuPy runs it: a 2-D product hands cuBLAS a C- or F-ordered operand as it
    is (a transpose is a flag), an N-D one first copies each operand that is not C-ordered (a
    generic call); the gemm is named by its dimensions ("matmul 2-D")."""
    nd = max(np.ndim(a), np.ndim(b))
    for x in (a, b):
        flags = np.ndarray.view(np.asanyarray(x), np.ndarray).flags
        if not (flags.c_contiguous or (nd <= 2 and flags.f_contiguous)):
            record("generic", "matmul's copy")
    record("gemm", f"matmul {nd}-D")


def _is_view(result, inputs):
    if not isinstance(result, np.ndarray):
        return False
    base = _memory(result)
    return any(isinstance(a, np.ndarray) and _memory(a) is base for a in _flat(inputs))


def _memory(a):
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def _flat(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flat(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _flat(o)
    else:
        yield obj


# The public attributes of CuPy 14.2's ndarray (tests/test_cuda_double.py checks them against
# the installed CuPy). Any other public attribute is NumPy's alone.
NDARRAY_ATTRIBUTES = frozenset("""
    T all any argmax argmin argpartition argsort astype base byteswap choose clip compress
    conj conjugate copy cstruct cumprod cumsum data device diagonal dot dtype dump dumps fill
    flags flat flatten get imag item itemsize mT max mdspan mean min nbytes ndim nonzero
    partition prod ptp put ravel real reduced_view repeat reshape round scatter_add
    scatter_max scatter_min searchsorted set shape size sort squeeze std strides sum swapaxes
    take toDlpack tobytes tofile tolist trace transpose var view""".split())


class Flags:
    """``cupy.ndarray.flags``: c_contiguous, f_contiguous and owndata, nothing else."""
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, flags):
        self.c_contiguous, self.f_contiguous = flags.c_contiguous, flags.f_contiguous
        self.owndata = flags.owndata

    def __getitem__(self, name):
        return getattr(self, {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
                              "OWNDATA": "owndata"}[name])


class MemoryPointer:
    """``cupy.ndarray.data``: the address, not a buffer."""

    def __init__(self, ptr):
        self.ptr = ptr


class DeviceArray(np.ndarray):
    """A ``cupy.ndarray`` stand-in: NumPy memory, CuPy's attributes and rules."""

    def __getattribute__(self, name):
        if name[0] != "_" and name not in NDARRAY_ATTRIBUTES:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        return super().__getattribute__(name)

    @property
    def flags(self):
        return Flags(np.ndarray.flags.__get__(self))

    @property
    def data(self):
        return MemoryPointer(self.__array_interface__["data"][0])

    @property
    def __cuda_array_interface__(self):
        interface = dict(self.__array_interface__, version=3)
        interface.pop("descr", None)
        return interface

    def get(self):
        """Device to host, as ``cupy.ndarray.get``."""
        record("d2h", "get")
        return np.array(host(self))

    def set(self, array):
        """Host to device, as ``cupy.ndarray.set``."""
        record("h2d", "set")
        host(self)[...] = array

    def __getitem__(self, key):
        result = _wrap(super().__getitem__(_host_key(key)))
        if not _basic(key):   # an index array: CuPy gathers with a kernel of its own
            record("generic", "getitem")
        return result

    def __setitem__(self, key, value):
        record("generic", "setitem")   # a copy or a fill kernel
        super().__setitem__(_host_key(key), host(value) if isinstance(value, DeviceArray)
                            else value)

    # ---- methods that launch a kernel or copy, counted; views are not ----
    def copy(self, order="C"):
        record("generic", "copy")
        return super().copy(order)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        if copy or np.dtype(dtype) != self.dtype:
            record("generic", "astype")
        return super().astype(dtype, order=order, casting=casting, subok=subok, copy=copy)

    def fill(self, value):
        record("generic", "fill")
        super().fill(value)

    def reshape(self, *shape, **kwargs):
        result = super().reshape(*shape, **kwargs)
        if not _is_view(result, self):
            record("generic", "reshape")
        return result

    def ravel(self, order="C"):
        result = super().ravel(order)
        if not _is_view(result, self):
            record("generic", "ravel")
        return result

    def flatten(self, order="C"):
        record("generic", "flatten")
        return super().flatten(order)

    def item(self, *args):
        record("d2h", "item")
        return super().item(*args)

    def tolist(self):
        record("d2h", "tolist")
        return super().tolist()

    def __float__(self):
        record("d2h", "float")
        return super().__float__()

    def __int__(self):
        record("d2h", "int")
        return super().__int__()

    def __bool__(self):
        record("d2h", "bool")
        return super().__bool__()

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        # NOTE: only the ufunc's name is checked: NumPy's own methods (a.sum() is add.reduce)
        # come through here too, where CuPy has methods of its own
        _check_name(_cupy, ufunc.__name__, "cupy")
        if method == "at":   # add.at(a, key, values): the key may hold index arrays
            a, key, *rest = inputs
            getattr(ufunc, method)(host(a), _host_key(key), *map(_device_operand, rest))
            return None
        if ufunc is np.matmul and method == "__call__":
            _record_matmul(*inputs)
        else:
            record("gemm" if ufunc.__name__ in PRODUCTS else "generic",
                   ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}")
        if _capture is not None and ufunc is np.matmul and out is None and method == "__call__":
            # a product in a graph: its output exists now, its numbers at each launch
            a, b = map(_device_operand, inputs)
            result = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
                              + (a.shape[-2], b.shape[-1]), np.result_type(a, b))
            _made_in_capture(result)
            ra, rb, rout = map(_at_address, (a, b, result))   # as a graph holds them
            _capture.append(lambda: np.matmul(ra(), rb(), out=rout(), **kwargs))
            return _wrap(result)
        if out is not None:
            kwargs["out"] = tuple(_device_operand(o) for o in out)
        result = getattr(ufunc, method)(*map(_device_operand, inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        # np.concatenate(device arrays) and friends: CuPy dispatches them to its own function
        _check_path(func.__module__, func.__name__)
        result = _wrap(func(*_unwrap(args), **_unwrap(kwargs)))
        _record_call(func.__name__, result, (args, kwargs))
        return result


def host(a):
    """The NumPy view of a device array's memory (the emulator's 'device memory')."""
    return np.ndarray.view(a, np.ndarray)


def _device_operand(x):
    """x as a NumPy operand; a host array among device operands is CuPy's TypeError."""
    if isinstance(x, DeviceArray):
        return host(x)
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}: a host numpy.ndarray among CuPy "
                        f"operands (move it with cupy.asarray first)")
    return x


def _basic(key):
    """True for an index of ints, slices, None and Ellipsis: a view, no kernel."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice))
               for k in keys)


def _host_key(key):
    """An index with device index arrays seen as NumPy ones (CuPy takes host ones too)."""
    if isinstance(key, tuple):
        return tuple(_host_key(k) for k in key)
    return host(key) if isinstance(key, DeviceArray) else key


def _unwrap(obj):
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return _device_operand(obj)


def _wrap(result):
    """NumPy results as device arrays: CuPy returns 0-d arrays where NumPy returns scalars."""
    if isinstance(result, DeviceArray):
        return result
    if isinstance(result, np.ndarray):
        return result.view(DeviceArray)
    if isinstance(result, np.generic):
        return np.asarray(result).view(DeviceArray)
    if isinstance(result, (list, tuple)):
        return type(result)(_wrap(r) for r in result)
    return result


def _check_name(cupy_object, name, where):
    if _cupy is not None and not hasattr(cupy_object, name):
        raise AttributeError(f"'{where}' has no attribute '{name}' in the installed CuPy "
                             f"{_cupy.__version__}")


def _check_path(numpy_path, name):
    """numpy.lib.stride_tricks.as_strided -> cupy.lib.stride_tricks must have as_strided."""
    if _cupy is None:
        return
    target = _cupy
    for part in numpy_path.split(".")[1:]:
        if part.startswith("_"):   # numpy._core.fromnumeric: CuPy exports it at the top
            target = _cupy
            break
        target = getattr(target, part, None)
    _check_name(target, name, "cupy")


class _Ufunc:
    """A ufunc of the double: NumPy's ufunc; its methods checked against CuPy's."""

    def __init__(self, ufunc):
        self.ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return _call(self.ufunc, args, kwargs)

    def __getattr__(self, method):
        _check_name(getattr(_cupy, self.ufunc.__name__, None), method,
                    f"cupy.{self.ufunc.__name__}")
        if method == "at":   # add.at(a, key, values): the key may hold index arrays
            def at(a, key, *values):
                self.ufunc.at(host(a), _host_key(key), *_unwrap(values))
            return at
        bound = getattr(self.ufunc, method)
        return lambda *args, **kwargs: _call(bound, args, kwargs)


def _call(fn, args, kwargs):
    """fn on NumPy operands, the result as device arrays; host arrays refused, as by CuPy."""
    result = _wrap(fn(*_unwrap(args), **_unwrap(kwargs)))
    _record_call(getattr(fn, "__name__", "call"), result, (args, kwargs))
    return result


class _Namespace(types.ModuleType):
    """``cupy`` (or ``cupy.lib``...): NumPy's object of the same path, under CuPy's rules."""

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
            obj = _function(obj)
        setattr(self, name, obj)   # dtypes, scalar types and constants pass as they are
        return obj


def _function(fn):
    def call(*args, **kwargs):
        return _call(fn, args, kwargs)
    call.__name__ = fn.__name__
    return call


# ---- the module itself: NumPy's names, and the ones only CuPy has ----
module = _Namespace("cupy", np, _cupy)
module.__version__ = _cupy.__version__ if _cupy is not None else "double"
module.ndarray = DeviceArray


def asarray(a, dtype=None, order=None):
    """Host to device (a copy); a device array of the same dtype comes back as it is."""
    if isinstance(a, DeviceArray) and (dtype is None or np.dtype(dtype) == a.dtype) \
            and order in (None, "K", "A"):
        return a
    return array(a, dtype=dtype, order=order or "K")


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    on_device = isinstance(obj, DeviceArray)
    record("generic" if on_device else "h2d", "array")
    source = host(obj) if on_device else obj
    return np.array(source, dtype=dtype, copy=copy, order=order, ndmin=ndmin).view(DeviceArray)


def asnumpy(a):
    """Device to host."""
    if isinstance(a, DeviceArray):
        record("d2h", "asnumpy")
    return np.array(host(a)) if isinstance(a, DeviceArray) else np.asarray(a)


def ascontiguousarray(a, dtype=None):
    if isinstance(a, DeviceArray) and a.flags.c_contiguous and \
            (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return _call(np.ascontiguousarray, (a,), {} if dtype is None else {"dtype": dtype})


def get_array_module(*arrays):
    return module if any(isinstance(a, DeviceArray) for a in arrays) else np


class Event:
    """cupy.cuda.Event timed by the host clock: on the double every launch is synchronous.

    As on a GPU, an event's time can be read only once the host has waited for it (its
    ``synchronize``, or that of an event recorded after it, or the device's): reading it
    earlier raises, as ``cudaEventElapsedTime`` fails with cudaErrorNotReady.
    """
    recorded = 0          # events recorded so far, in stream order
    synchronized = 0      # the host has waited for the first `synchronized` of them

    def __init__(self, *args, **kwargs):
        self.time, self.order = None, None

    def record(self, stream=None):
        Event.recorded += 1
        self.time, self.order = time.perf_counter(), Event.recorded

    def synchronize(self):
        if self.order is not None:
            Event.synchronized = max(Event.synchronized, self.order)

    @property
    def done(self):
        return self.order is not None and self.order <= Event.synchronized


def get_elapsed_time(start, end):
    for event in (start, end):
        if not event.done:
            raise RuntimeError("cudaErrorNotReady: an event was read before the host waited for "
                               "it (synchronize the later event first)")
    return (end.time - start.time) * 1e3   # milliseconds, as CuPy


def _synchronize_device():
    if _capture is not None:
        raise RuntimeError("cudaErrorStreamCaptureUnsupported: a synchronize during capture")
    Event.synchronized = Event.recorded


class Device:
    def __init__(self, device=0):
        self.id = device
        self.compute_capability = "90"

    def synchronize(self):
        _synchronize_device()


module.asarray, module.array, module.asnumpy = asarray, array, asnumpy
module.ascontiguousarray, module.get_array_module = ascontiguousarray, get_array_module
module.cuda = types.SimpleNamespace(
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, deviceSynchronize=_synchronize_device,
                                  getDeviceProperties=lambda i: {"name": b"CuPy double"}),
    Event=Event, get_elapsed_time=get_elapsed_time, Device=Device, Stream=Stream, Graph=Graph,
    get_current_stream=get_current_stream)
_linalg = types.SimpleNamespace(COMPUTE_TYPE_DEFAULT=0, COMPUTE_TYPE_TF32=1,
                                set_compute_type=lambda dtype, mode: None)
module._core = types.SimpleNamespace(_routines_linalg=_linalg)


def install(monkeypatch):
    """Put the double where minigan keeps CuPy, for one test (undone by ``monkeypatch``)."""
    from minigan import backend
    monkeypatch.setattr(backend, "cupy", module)
