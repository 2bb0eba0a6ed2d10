"""Run our CUDA kernels on the CPU: each kernels/*.cu is compiled with g++ against cuda_emu.h,
and ``EmulatorRuntime`` stands in for ``minigan.cuda.CupyRuntime``.

``install`` puts it in place together with the CuPy double (``cupy_double``, with
``cupy_streams``): tensors on device 'cuda' then take the ``forward_cuda`` paths, with the
launch code, argument checks, grid sizes and kernels of a GPU run, one CPU fiber per CUDA
thread. What it cannot show: speed, coalescing, or bugs that need real concurrency between
blocks.

Rounding: ``ROUNDING`` (the environment variable CUDA_EMU_ROUNDING) picks how g++ rounds.
- "exact": every operation rounded once, as written (-ffp-contract=off), subnormals kept.
- "nvrtc": as CuPy compiles for a GPU. NVRTC contracts a * b + c into one fused
  multiply-add unless told --fmad=false, its default; CuPy adds -ftz=true to every compile
  (cupy/cuda/compiler.py:667), which flushes float subnormals to zero. So g++ contracts
  (-ffp-contract=fast -mfma) except in a file whose options say --fmad=false
  (minigan.cuda.loading.FILE_OPTIONS), and each float instance runs with FTZ and DAZ set. g++ does
  not contract exactly the expressions NVRTC does: the mode shows that a tolerance, or a
  claim of the same bits, does not depend on how a compiler rounds.
"""
import ctypes
import os
import platform
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from minigan import cuda

from . import cupy_double, cupy_streams
from .our_rules import record

HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDINGS = ("exact", "nvrtc")
ROUNDING = os.environ.get("CUDA_EMU_ROUNDING", "exact")

# NOTE: with -mfma a kernel's explicit fma() is one instruction, not a call into libm, and
# -fexpensive-optimizations is the pass that contracts at -O1
_HAS_FMA = os.path.exists("/proc/cpuinfo") and "fma" in open("/proc/cpuinfo").read().split()
_FLAGS = {"exact": ["-ffp-contract=off"] + ["-mfma"] * _HAS_FMA,
          "nvrtc": ["-ffp-contract=fast", "-mfma", "-fexpensive-optimizations"]}


# what waits at a barrier: __syncthreads(), and kernels/common.cuh's block_sum, which calls it
_BARRIERS = ("__syncthreads", "block_sum(")


def symbol(instance):
    """The library's name for a kernel instance: ``im2col<float>`` -> ``im2col__float``."""
    return instance.replace("<", "__").rstrip(">")


def build(folder, rounding=None):
    """Compile each kernel file into a shared library of its own in ``folder`` (a file's
    compiler options are its own, as NVRTC's are): every instance minigan.cuda asks for, each
    kernel for float and double. An export takes its instance's address, which instantiates
    the template. Returns ``folder``, or None without g++."""
    rounding = rounding or ROUNDING
    if rounding not in ROUNDINGS:
        raise ValueError(f"CUDA_EMU_ROUNDING: {rounding!r} is none of {ROUNDINGS}")
    if rounding == "nvrtc" and (platform.machine() not in ("x86_64", "AMD64") or not _HAS_FMA):
        raise RuntimeError("CUDA_EMU_ROUNDING=nvrtc needs an x86-64 processor with FMA (FTZ "
                           "and DAZ are emulated there only)")
    compiler = shutil.which("g++")
    if compiler is None:
        return None
    os.makedirs(folder, exist_ok=True)

    def compile_file(file):
        source = cuda.source(file)   # what NVRTC compiles (kernels/common.cuh, then the file)
        # NOTE: threads as fibers only where a kernel waits at a barrier, its own or
        # common.cuh's block_sum: the others run their threads one after another, much faster
        # (cuda_emu.h stops a launch whose kernel waits there after all)
        own = (cuda.kernel_dir() / f"{file}.cu").read_text()
        waits = any(call in own for call in _BARRIERS)
        export = "EMU_EXPORT" if waits else "EMU_EXPORT_SEQUENTIAL"
        lines = ['#include "cuda_emu.h"', source]
        for instance in cuda.name_expressions(file):
            ftz = rounding == "nvrtc" and instance.endswith("<float>")
            lines.append(f"{export}({symbol(instance)}, {str(ftz).lower()}, {instance})")
        src = os.path.join(folder, f"{file}.cpp")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        flags = _FLAGS[rounding]
        if "--fmad=false" in cuda.options(file):   # NOTE: its numbers must round as NumPy's
            flags = _FLAGS["exact"]
        defines = [o for o in cuda.options(file) if o.startswith("-D")]   # -DTHREADS, -DTILE
        subprocess.run([compiler, "-std=c++17", "-O1", *flags, *defines, "-shared", "-fPIC",
                        "-I", HERE, "-o", os.path.join(folder, f"lib{file}.so"), src],
                       check=True, capture_output=True, text=True)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(compile_file, cuda.kernel_files()))
    return folder


class EmulatedKernel:
    """One kernel instance of its file's library, called as CuPy calls a RawKernel
    (cupy/_core/raw.pyx:86-104, cupy/cuda/function.pyx:142-151): grid and block are tuples,
    padded with 1s, each at least 1; the arguments are packed as CuPy packs them
    (``cupy_double.pack``) and the kernel reads the bytes its parameters declare; the launch
    goes to the given stream, else the current one (function.pyx:85-89)."""

    def __init__(self, symbol, name):
        self.symbol, self.name = symbol, name

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        if not isinstance(grid, tuple) or not isinstance(block, tuple):
            raise TypeError(f"Argument 'grid' and 'block' must be tuples, got "
                            f"{type(grid).__name__} and {type(block).__name__}")
        grid, block = ([max(1, v) for v in d + (1,) * (3 - len(d))] for d in (grid, block))
        # NOTE: 16 bytes at least for each: a kernel that declares a wider parameter than it
        # was given reads past CuPy's bytes (garbage on a GPU), zeros here
        values = [ctypes.create_string_buffer(cupy_double.pack(a), 16) for a in args]
        pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        record("kernel", self.name)
        keep = (values, pointers)   # a captured launch keeps its arguments' bytes
        cupy_streams.submit(lambda: self.symbol(*grid, *block, keep[1]), stream)


class EmulatorRuntime(cuda.CupyRuntime):
    """``CupyRuntime`` with the kernels built by g++ instead of NVRTC.

    Everything else is inherited: device arrays are the CuPy double's (installed beside it),
    new outputs come from its pool, and ``minigan.cuda.launch`` checks the arguments before
    either runtime sees them.
    """
    poison = True

    def __init__(self, folder):
        self.folder, self.libs = folder, {}

    def empty(self, shape, dtype):
        out = cupy_double.empty(shape, dtype=dtype)
        cupy_double.host(out).fill(np.nan)   # the poison is the tests' own: not counted
        return out

    def function(self, file, name, dtype):
        assert name in cuda.kernels(file), f"no kernel {name} in kernels/{file}.cu"
        if file not in self.libs:
            self.libs[file] = ctypes.CDLL(os.path.join(self.folder, f"lib{file}.so"))
        return EmulatedKernel(getattr(self.libs[file], symbol(cuda.instance(name, dtype))), name)


def install(monkeypatch, folder):
    """The emulated GPU, for one test: the CuPy double as CuPy, our kernels on the CPU."""
    cupy_double.install(monkeypatch)
    monkeypatch.setattr(cuda.loading, "runtime", EmulatorRuntime(folder))
