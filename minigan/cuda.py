"""The one loader of our CUDA kernels (``kernels/*.cu``) and the one launch helper.

``launch("leaky_relu", "leaky_relu_forward", dtype, blocks, *args)`` checks every
argument, then runs the template instance for float32 or float64 of a kernel in
``kernels/leaky_relu.cu``. The file is compiled once per process (a
``cupy.RawModule``; the source is prefixed with ``#line 1 "kernels/leaky_relu.cu"``
so a compile error points at the real file and line).

The .cu files are package data: ``kernels/`` is linked into the package as
``minigan/kernels``, and read through importlib.resources, so a wheel or an editable
install finds them as the source tree does.

The tests swap ``runtime`` for a CPU emulator (tests/cuda_emu), beside a CuPy double,
so the same launch code and the same checks run on machines without a GPU.
"""
import functools
import re
from importlib import resources

import numpy as np

from . import backend

_CTYPE = {np.dtype("float32"): "float", np.dtype("float64"): "double"}

THREADS = 256          # threads per block for every launch
MAX_BLOCKS = 65535     # grid-stride loops cover the rest


def is_available():
    """``minigan.cuda.is_available()``, as ``torch.cuda.is_available()``."""
    return backend.gpu_available()


class _Matmul:
    """``minigan.cuda.matmul.allow_tf32``, as PyTorch's ``torch.backends.cuda.matmul.allow_tf32``.

    Off by default: float32 GEMMs (matmul, conv) stay float32. On: cuBLAS may round
    their inputs to TF32 on the tensor cores, several times faster, ~1e-3 relative error.
    """
    _allow = False

    @property
    def allow_tf32(self):
        return self._allow

    @allow_tf32.setter
    def allow_tf32(self, flag):
        self._allow = bool(flag)
        if backend.cupy is not None:
            linalg = backend.cupy._core._routines_linalg
            mode = linalg.COMPUTE_TYPE_TF32 if flag else linalg.COMPUTE_TYPE_DEFAULT
            linalg.set_compute_type(np.float32, mode)


matmul = _Matmul()
if backend.cupy is not None:
    try:
        matmul.allow_tf32 = False   # NOTE: CuPy turns TF32 on when CUPY_TF32=1 is set; we start off
    except Exception:               # an older CuPy without the switch: importing must still work
        pass


def kernel_dir():
    """The folder of the .cu files, as importlib.resources sees it: minigan/kernels."""
    return resources.files("minigan") / "kernels"


def kernel_files():
    """Every kernel file, by name: ``["adam", "batch_norm", ...]`` for ``kernels/*.cu``."""
    return sorted(f.name[:-len(".cu")] for f in kernel_dir().iterdir() if f.name.endswith(".cu"))


@functools.lru_cache(maxsize=None)
def source(file):
    """The text CuPy compiles: a #line directive, then the file."""
    return f'#line 1 "kernels/{file}.cu"\n' + (kernel_dir() / f"{file}.cu").read_text()


# A kernel is a template over its element type T: "template <typename T> __global__ void name("
_KERNEL = re.compile(r"template\s*<\s*typename\s+T\s*>\s*__global__\s+void\s+(\w+)\s*\(")


@functools.lru_cache(maxsize=None)
def kernels(file):
    """The kernels of ``kernels/<file>.cu``, in file order: the one list of their names.

    NVRTC (``name_expressions``), nvcc (.ci/run) and the CPU emulator (tests/cuda_emu) each
    instantiate every one of them for float and double; the .cu files hold templates only.
    """
    text = source(file)
    names = tuple(_KERNEL.findall(text))
    found = len(re.findall(r"\b__global__\b", text))
    if len(names) != found:
        raise ValueError(f"kernels/{file}.cu: {found - len(names)} of its {found} __global__ "
                         f"functions are not written 'template <typename T> __global__ void "
                         f"<name>(': no instance of them would be compiled")
    return names


OPTIONS = ("-std=c++17",)


def instance(name, dtype):
    """The instance of kernel ``name`` for ``dtype``: ``leaky_relu_forward<float>``."""
    return f"{name}<{_CTYPE[np.dtype(dtype)]}>"


def name_expressions(file):
    """Every instance of the file's kernels, each for float and double: what CuPy is asked
    for, nvcc compiles in .ci/run and the emulator exports."""
    return tuple(instance(k, dtype) for k in kernels(file) for dtype in _CTYPE)


class CupyRuntime:
    """Compiles with NVRTC through CuPy, launches on the current GPU."""

    @functools.lru_cache(maxsize=None)
    def module(self, file):
        return backend.cupy.RawModule(code=source(file), options=OPTIONS,
                                      name_expressions=name_expressions(file))

    @functools.lru_cache(maxsize=None)   # one lookup per kernel, not one per launch
    def function(self, file, name, dtype):
        return self.module(file).get_function(instance(name, dtype))

    poison = False   # tests set it: every new output starts as NaN, so unwritten elements show

    @staticmethod
    def handles(array):
        """True for arrays this runtime's kernels run on (CuPy arrays)."""
        return backend.cupy is not None and isinstance(array, backend.cupy.ndarray)

    def empty(self, shape, dtype):
        out = backend.cupy.empty(shape, dtype=dtype)
        if self.poison:
            out.fill(np.nan)
        return out


runtime = CupyRuntime()


def on_device(array):
    """The one test for "use our kernels": asked by Function.__call__ and by the optimizers."""
    return runtime.handles(array)


def dense(array):
    """``array`` itself when dense and C-ordered, else a dense copy (what a kernel may read)."""
    if array.flags.c_contiguous:
        return array
    return backend.get_array_module(array).ascontiguousarray(array)


def empty(shape, dtype):
    """A new array for a kernel to write (NaN-filled while the tests poison outputs)."""
    return runtime.empty(shape, dtype)


def empty_like(array):
    return runtime.empty(array.shape, array.dtype)


def blocks_for(n, threads=THREADS):
    """Blocks for n items, one per thread; past MAX_BLOCKS the kernels' grid-stride loops go on."""
    return max(1, min(MAX_BLOCKS, (n + threads - 1) // threads))


def launch(file, name, dtype, blocks, *args):
    """Run ``name<dtype>`` of ``kernels/<file>.cu`` on ``blocks`` blocks of THREADS threads.

    Every launch comes here, on a GPU and on the tests' emulator alike, and every argument
    is checked first (STYLE rule 13): a kernel indexes its arrays as dense, C-ordered
    arrays of its own type T, and CuPy passes only a pointer, so anything else would be
    read wrongly without an error.
    """
    dtype = np.dtype(dtype)
    check_arguments(name, dtype, args)
    runtime.function(file, name, dtype)((blocks,), (THREADS,), args)


# NOTE: an absent optional array goes to a kernel as an 8-byte zero, NULL. CuPy 14 would
# pass None as NULL too (CuPy 13 passed 0xffffffff); a typed zero is checked like any scalar.
NULL = np.uint64(0)
_INTEGERS = (np.int32, np.int64, np.uint64)   # int, long long, and NULL pointers


def check_arguments(name, dtype, args):
    """Raise unless each argument is what a ``name<T>`` kernel reads, with T = ``dtype``:
    a device array that is dense, C-ordered and of dtype T, or a NumPy scalar of a C type
    (floating ones of T: CuPy would pass a double as 8 bytes where a float takes 4)."""
    if dtype not in _CTYPE:
        raise TypeError(f"kernel {name}: no instance for dtype {dtype} (float32 and float64 "
                        f"only)")
    for i, a in enumerate(args):
        if runtime.handles(a):
            if a.dtype != dtype:
                raise TypeError(f"kernel {name}<{_CTYPE[dtype]}>: argument {i} has dtype "
                                f"{a.dtype}, expected {dtype}")
            if not a.flags.c_contiguous:
                raise ValueError(f"kernel {name}: argument {i} of shape {tuple(a.shape)} and "
                                 f"strides {a.strides} is not dense and C-ordered")
        elif isinstance(a, np.generic):
            if a.dtype.kind == "f" and a.dtype != dtype:
                raise TypeError(f"kernel {name}<{_CTYPE[dtype]}>: scalar argument {i} is "
                                f"{a.dtype}, expected {dtype}")
            if a.dtype.kind != "f" and not isinstance(a, _INTEGERS):
                raise TypeError(f"kernel {name}: scalar argument {i} is {a.dtype}; integers "
                                f"are passed as int32, int64 or uint64 (NULL)")
        else:
            raise TypeError(f"kernel {name}: argument {i} is a {type(a).__name__}; a kernel "
                            f"takes device arrays and NumPy scalars of its C types")


def kernel_dtype(op, **tensors):
    """The one dtype of a kernel-backed op's tensors (None skipped): float32 or float64.

    The op's public function asks on every device, so that the CPU and the GPU refuse
    alike, as PyTorch does: mixed dtypes, or any other dtype, are a TypeError naming the op.
    """
    given = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(given.values())) > 1:
        raise TypeError(f"{op}: expected {', '.join(given)} of one dtype, got "
                        f"{', '.join(str(d) for d in given.values())}")
    dtype = next(iter(given.values()))
    if dtype not in _CTYPE:
        raise TypeError(f"{op}: dtype {dtype} is not supported (float32 or float64)")
    return dtype


def pointer(array):
    """An optional array argument: the array, or NULL."""
    return NULL if array is None else array


def scalar(value, dtype):
    """A kernel argument of the array's dtype (float32 or float64)."""
    return np.dtype(dtype).type(value)
