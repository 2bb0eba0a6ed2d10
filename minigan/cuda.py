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
FLOAT_TYPES = tuple(_CTYPE)   # the dtypes every kernel has an instance for

THREADS = 256          # threads per block for every launch
MAX_BLOCKS = 65535     # grid-stride loops cover the rest


def is_available():
    """``minigan.cuda.is_available()``, as ``torch.cuda.is_available()``."""
    return backend.gpu_available()


class _Matmul:
    """``minigan.cuda.matmul.allow_tf32``, as PyTorch's ``torch.backends.cuda.matmul.allow_tf32``:
    whether float32 products may round their inputs to TF32 on the tensor cores.

    It allows, it does not ask. Every product on the GPU is our GEMM kernel
    (kernels/gemm.cu, ``product``), which has no tensor-core path yet: float32 products stay
    float32 whatever the flag says.
    """
    allow_tf32 = False


matmul = _Matmul()


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


# The C types a kernel's parameters may have; T is the kernel's own dtype.
_PARAMETER_TYPES = {"float": np.dtype("float32"), "double": np.dtype("float64"),
                    "int": np.dtype("int32"), "long long": np.dtype("int64"),
                    "unsigned long long": np.dtype("uint64"), "unsigned char": np.dtype("uint8")}


@functools.lru_cache(maxsize=None)
def parameters(file, name):
    """Kernel ``name``'s parameters, read from its .cu file: ``(name, C type, is_pointer)``
    each, the C type without const and __restrict__ (``T`` for the element type)."""
    text = source(file)
    head = re.search(r"__global__\s+void\s+" + name + r"\s*\(([^)]*)\)", text)
    found = []
    for parameter in head.group(1).split(","):
        words = parameter.replace("*", " * ").split()
        words = [w for w in words if w not in ("const", "__restrict__")]
        pointer = "*" in words
        ctype = " ".join(w for w in words[:-1] if w != "*")
        if ctype != "T" and ctype not in _PARAMETER_TYPES:
            raise ValueError(f"kernels/{file}.cu: kernel {name}'s parameter {parameter.strip()!r} "
                             f"has a type minigan.cuda cannot check")
        found.append((words[-1], ctype, pointer))
    return tuple(found)


OPTIONS = ("-std=c++17",)
# NOTE: random.cu's numbers must round as NumPy's do: no fused multiply-adds there
FILE_OPTIONS = {"random": ("--fmad=false",)}


def options(file):
    """The compiler options of ``kernels/<file>.cu``: NVRTC here, nvcc in .ci/run."""
    return OPTIONS + FILE_OPTIONS.get(file, ())


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
        return backend.cupy.RawModule(code=source(file), options=options(file),
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


kept = None   # while minigan.graphs captures a step: every array made for it, kept alive


def empty(shape, dtype):
    """A new array for a kernel to write (NaN-filled while the tests poison outputs)."""
    out = runtime.empty(shape, dtype)
    if kept is not None:   # NOTE: a captured graph writes here on every replay: never freed
        kept.append(out)
    return out


def empty_like(array):
    return empty(array.shape, array.dtype)


def copy(out, array):
    """out[...] = array, both dense device arrays of one shape and dtype: one launch."""
    launch("arith", "copy", out.dtype, blocks_for(out.size), out, dense(array),
           np.int64(out.size))
    return out


def full(shape, value, dtype):
    """A new device array of ``value``: one launch of our fill kernel (kernels/arith.cu)."""
    out = empty(shape, dtype)
    launch("arith", "fill", dtype, blocks_for(out.size), out, scalar(value, dtype),
           np.int64(out.size))
    return out


# NOTE: per-channel sums (kernels/batch_norm.cu, kernels/reduce.cu's sum_channels) run in two
# stages, so that a few channels still fill the card: stage 1 aims at about 4 blocks per SM of a
# 132-SM H200, each part at least 2048 values. Constants, not the card's own count: the parts,
# and so the bits, are the same on every card and every rerun.
PART_BLOCKS, MIN_PART = 528, 2048


def channel_parts(c, m):
    """P: into how many parts stage 1 of a per-channel sum splits each of c channels' m values."""
    return max(1, min(-(-PART_BLOCKS // max(c, 1)), -(-m // MIN_PART)))


def blocks_for(n, threads=THREADS):
    """Blocks for n items, one per thread; past MAX_BLOCKS the kernels' grid-stride loops go on."""
    return max(1, min(MAX_BLOCKS, (n + threads - 1) // threads))


def launch(file, name, dtype, blocks, *args):
    """Run ``name<dtype>`` of ``kernels/<file>.cu`` on ``blocks`` blocks of THREADS threads.

    Every launch comes here, on a GPU and on the tests' emulator alike, and every argument
    is checked first against the kernel's parameters (STYLE rule 13): CuPy passes a pointer
    for an array and packs a scalar by its own type, so an array of another dtype, a view
    that is not dense, or an int64 where the kernel takes an int would be read wrongly
    without an error.
    """
    global launches
    kernel = _kernels.get((file, name, dtype, runtime))
    if kernel is None:
        kernel = _kernels[file, name, dtype, runtime] = Kernel(file, name, np.dtype(dtype))
    kernel.check(args)
    kernel.function((blocks,), (THREADS,), args)
    launches += 1


launches = 0   # our kernels launched so far in this process (benchmarks/gan_step.py reads it)
products = 0   # of which GEMMs, through ``product``


def product(a, b):
    """a @ b of two device arrays, batch axes broadcast: our GEMM kernel (kernels/gemm.cu).

    NumPy reference: ``a @ b``. The kernel reads dense, C-ordered matrices, each with a flag:
    an operand whose last two axes are a transposed view (``x.T``, a conv's
    ``cols.transpose(0, 2, 1)``) goes as the C-ordered array it views, with trans = 1; a batch
    of one matrix goes with a batch stride of 0. Any other layout is copied dense first.
    NOTE: not cuBLAS: CuPy refuses every cuBLAS call while a stream captures a graph
    (cupy_backends/cuda/libs/cublas.pyx, setStream), and the kernel gives the same bits on
    every card.
    """
    global products
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"product: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                         f"multiplied (two matrices or stacks of them, a's columns = b's rows)")
    xp = backend.get_array_module(a)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    (a, trans_a, stride_a), (b, trans_b, stride_b) = (_matrices(x, batch, xp) for x in (a, b))
    m, k = (a.shape[-1], a.shape[-2]) if trans_a else a.shape[-2:]
    n = b.shape[-2] if trans_b else b.shape[-1]
    out = empty(batch + (m, n), a.dtype)
    count = int(np.prod(batch, dtype=np.int64))
    tiles = count * -(-m // 64) * -(-n // 64)   # 64 x 64 outputs a block (kernels/gemm.cu)
    launch("gemm", "gemm", out.dtype, max(1, min(MAX_BLOCKS, tiles)), a, b, out,
           np.int64(count), np.int64(m), np.int64(n), np.int64(k), np.int32(trans_a),
           np.int32(trans_b), np.int64(stride_a), np.int64(stride_b))
    products += 1
    return out


def _matrices(x, batch, xp):
    """``x`` (..., R, C) as the GEMM kernel reads it: (dense C-ordered array, trans, batch
    stride), for the broadcast batch shape ``batch``."""
    if x.shape[:-2] != batch and x.ndim > 2 and np.prod(x.shape[:-2]) != 1:
        x = xp.ascontiguousarray(xp.broadcast_to(x, batch + x.shape[-2:]))   # a rare layout
    stride = x.shape[-2] * x.shape[-1] if np.prod(x.shape[:-2]) > 1 else 0
    if x.flags.c_contiguous:
        return x, 0, stride
    if x.swapaxes(-1, -2).flags.c_contiguous:   # a transposed view: its array and the flag
        return x.swapaxes(-1, -2), 1, stride
    return dense(x), 0, stride


_kernels = {}  # (file, name, dtype, runtime) -> Kernel: a launch is a lookup, a check, a call

# NOTE: an absent optional array goes to a kernel as an 8-byte zero, NULL. CuPy 14 would
# pass None as NULL too (CuPy 13 passed 0xffffffff); a typed zero is checked like any scalar.
NULL = np.uint64(0)


class Kernel:
    """One kernel instance, ``name<dtype>``: its handle and what each parameter takes."""

    def __init__(self, file, name, dtype):
        if dtype not in _CTYPE:
            raise TypeError(f"kernel {name}: no instance for dtype {dtype} (float32 and "
                            f"float64 only)")
        self.name, self.dtype = name, dtype
        self.params = parameters(file, name)
        # per parameter: (is a pointer, the dtype it takes, the NumPy scalar type it takes)
        self.takes = [(pointer, dtype if ctype == "T" else _PARAMETER_TYPES[ctype])
                      for _, ctype, pointer in self.params]
        self.takes = [(pointer, d, d.type) for pointer, d in self.takes]
        self.function = runtime.function(file, name, dtype)

    def check(self, args):
        """Raise unless each argument is what its parameter reads, with T = the dtype: for a
        pointer, a device array of its type that is dense and C-ordered (or NULL); otherwise
        a NumPy scalar of exactly its C type.

        NOTE: every launch pays for this loop, so the passing case only compares; the
        messages are written (by ``_refuse``) only for an argument that fails.
        """
        if len(args) != len(self.takes):
            raise TypeError(f"kernel {self.name} takes {len(self.takes)} arguments, got "
                            f"{len(args)}")
        handles = runtime.handles
        for a, (pointer, dtype, scalar) in zip(args, self.takes):
            if pointer:
                if handles(a) and a.dtype == dtype and a.flags.c_contiguous:
                    continue
                if type(a) is np.uint64 and a == 0:   # NULL
                    continue
            elif type(a) is scalar:
                continue
            i = next(i for i, b in enumerate(args) if b is a)
            pname, ctype, _ = self.params[i]
            _refuse(f"kernel {self.name}<{_CTYPE[self.dtype]}>: argument {i} ({pname})", a,
                    ctype, pointer, dtype)


def _refuse(where, a, ctype, pointer, expected):
    """The error for an argument that ``Kernel.check`` did not pass."""
    if runtime.handles(a):
        if not pointer:
            raise TypeError(f"{where} is a {ctype}, got a device array")
        if a.dtype != expected:
            raise TypeError(f"{where} has dtype {a.dtype}, expected {expected}")
        raise ValueError(f"{where} of shape {tuple(a.shape)} and strides {a.strides} is not "
                         f"dense and C-ordered")
    if isinstance(a, np.generic):
        if pointer:
            raise TypeError(f"{where} is a {ctype} array; got a {a.dtype} scalar (only NULL, "
                            f"np.uint64(0), stands for no array)")
        raise TypeError(f"{where} is a {ctype}, got {a.dtype} (scalars go as NumPy scalars of "
                        f"exactly the parameter's type)")
    raise TypeError(f"{where} is a {type(a).__name__}; a kernel takes device arrays and NumPy "
                    f"scalars of its parameters' C types")


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


# NOTE: at the end: minigan.graphs uses this module's launch helpers
from .graphs import CapturedStep, capturing, on_replay  # noqa: E402,F401
