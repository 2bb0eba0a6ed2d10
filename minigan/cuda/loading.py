"""The kernels' sources and how they are compiled: the bottom of ``minigan.cuda``.

Every kernel lives in ``kernels/<file>.cu`` as a template over its element type T. This
module reads the files (``source``), lists their kernels (``kernels``) and their parameters
(``parameters``), names the instances to compile (``name_expressions``) and the compiler
options (``options``); ``CupyRuntime`` compiles a file once per process (a
``cupy.RawModule``) and hands out one handle per instance.

Every source starts with kernels/common.cuh (the block sum, the part bounds), and every
compile gets ``-DTHREADS=<THREADS> -DTILE=<TILE>``: the block size and the movers' tile
have one definition each, here.

The .cu and .cuh files are package data: ``kernels/`` is linked into the package as
``minigan/kernels``, and read through importlib.resources, so a wheel or an editable
install finds them as the source tree does.

``runtime`` is the one runtime every launch and every new array asks. The tests swap it
(``monkeypatch.setattr(minigan.cuda.loading, "runtime", ...)``) for a CPU emulator
(tests/cuda_emu), so the same launch code and the same checks run without a GPU.
"""
import functools
import re
from importlib import resources

import numpy as np

from .. import backend

_CTYPE = {np.dtype("float32"): "float", np.dtype("float64"): "double"}
FLOAT_TYPES = tuple(_CTYPE)   # the dtypes every kernel has an instance for

# NOTE: the one definition of a block's size: every launch runs THREADS threads a block
# (minigan.cuda.launching), and every compile gets -DTHREADS=<it> (``options``), which sizes
# the kernels' shared arrays (kernels/common.cuh)
THREADS = 256
# NOTE: the side of the square tiles that kernels/conv.cu's movers pass through shared memory,
# one block a tile: one definition too, passed as -DTILE=<it> (``launching.tiles`` counts them)
TILE = 32


def kernel_dir():
    """The folder of the .cu files, as importlib.resources sees it: minigan/kernels."""
    return resources.files("minigan") / "kernels"


def kernel_files():
    """Every kernel file, by name: ``["adam", "batch_norm", ...]`` for ``kernels/*.cu``."""
    return sorted(f.name[:-len(".cu")] for f in kernel_dir().iterdir() if f.name.endswith(".cu"))


COMMON = "common.cuh"   # what every kernel file shares: the block sum, the part bounds


@functools.lru_cache(maxsize=None)
def source(file):
    """The text a compiler gets for ``kernels/<file>.cu``: kernels/common.cuh, then the file,
    each after a #line directive, so that an error points at the real file and line."""
    common, text = ((kernel_dir() / name).read_text() for name in (COMMON, f"{file}.cu"))
    return f'#line 1 "kernels/{COMMON}"\n{common.rstrip()}\n#line 1 "kernels/{file}.cu"\n{text}'


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
PARAMETER_TYPES = {"float": np.dtype("float32"), "double": np.dtype("float64"),
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
        if ctype != "T" and ctype not in PARAMETER_TYPES:
            raise ValueError(f"kernels/{file}.cu: kernel {name}'s parameter {parameter.strip()!r} "
                             f"has a type minigan.cuda cannot check")
        found.append((words[-1], ctype, pointer))
    return tuple(found)


OPTIONS = ("-std=c++17", f"-DTHREADS={THREADS}", f"-DTILE={TILE}")
# NOTE: random.cu's numbers must round as NumPy's do: no fused multiply-adds there
FILE_OPTIONS = {"random": ("--fmad=false",)}


def options(file):
    """The compiler options of ``kernels/<file>.cu``: NVRTC here, nvcc in .ci/run."""
    return OPTIONS + FILE_OPTIONS.get(file, ())


def ctype(dtype):
    """The C name of a kernel dtype: ``float`` or ``double``."""
    return _CTYPE[np.dtype(dtype)]


def instance(name, dtype):
    """The instance of kernel ``name`` for ``dtype``: ``leaky_relu_forward<float>``."""
    return f"{name}<{ctype(dtype)}>"


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
        """True for arrays this runtime's kernels run on: CuPy arrays (``backend.on_gpu``)."""
        return backend.on_gpu(array)

    def empty(self, shape, dtype):
        out = backend.cupy.empty(shape, dtype=dtype)
        if self.poison:
            out.fill(np.nan)
        return out


runtime = CupyRuntime()   # read as ``loading.runtime`` at each use: the tests swap it
