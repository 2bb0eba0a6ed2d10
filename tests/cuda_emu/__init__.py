"""Run our CUDA kernels on the CPU: every kernels/*.cu is compiled with g++ against
cuda_emu.h, and ``EmulatorRuntime`` stands in for ``minigan.cuda.CupyRuntime``.

``install`` puts it in place together with the CuPy double (``cupy_double``): tensors
on device 'cuda' then take the ``forward_cuda`` paths, with the launch code, argument
checks, grid sizes and kernels of a GPU run, one CPU thread per CUDA thread. What it
cannot show: speed, coalescing, or bugs that need real concurrency between blocks.
"""
import ctypes
import os
import shutil
import subprocess

import numpy as np

from minigan import cuda

from . import cupy_double

HERE = os.path.dirname(os.path.abspath(__file__))
_ARG = {np.float32: ctypes.c_float, np.float64: ctypes.c_double, np.int32: ctypes.c_int,
        np.int64: ctypes.c_longlong, np.uint64: ctypes.c_uint64}


def symbol(instance):
    """The library's name for a kernel instance: ``im2col<float>`` -> ``im2col__float``."""
    return instance.replace("<", "__").rstrip(">")


def build(folder):
    """Compile every kernel instance (``minigan.cuda.name_expressions``: each kernel for float
    and double) into one shared library; its path. An export takes its instance's address,
    which instantiates the template."""
    compiler = shutil.which("g++")
    if compiler is None:
        return None
    lines = ['#include "cuda_emu.h"']
    for file in cuda.kernel_files():
        source = cuda.source(file)   # what NVRTC compiles, read as minigan.cuda reads it
        with open(os.path.join(folder, file + ".cu"), "w") as f:
            f.write(source)
        lines.append(f'#include "{file}.cu"')
        export = "EMU_EXPORT" if "__syncthreads" in source else "EMU_EXPORT_SEQUENTIAL"
        for instance in cuda.name_expressions(file):
            lines.append(f"{export}({symbol(instance)}, {instance})")
    src = os.path.join(folder, "exports.cpp")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    lib = os.path.join(folder, "libcuda_emu.so")
    # NOTE: no contraction of a * b + c into one rounding, as NVRTC with --fmad=false
    subprocess.run([compiler, "-std=c++17", "-O1", "-ffp-contract=off", "-shared", "-fPIC",
                    "-I", HERE, "-o", lib, src], check=True, capture_output=True, text=True)
    return lib


class EmulatedKernel:
    """One kernel instance of the shared library, called as CuPy calls a RawKernel.

    The arguments were checked by ``minigan.cuda.launch`` (dense, C-ordered, of the kernel's
    dtype; NumPy scalars of its C types), the same check a GPU run passes through.
    """

    def __init__(self, symbol, name):
        self.symbol, self.name = symbol, name

    def __call__(self, grid, block, args):
        cupy_double.record("kernel", self.name)
        # NOTE: the addresses are taken now, and the arrays are not kept: a captured graph
        # holds pointers, and an array freed since is the capture's error (cupy_double)
        values = [ctypes.c_void_p(a.__array_interface__["data"][0])
                  if isinstance(a, cupy_double.DeviceArray) else _ARG[type(a)](a) for a in args]
        cupy_double.defer(lambda: self.run(grid, block, values))   # a capture keeps it

    def run(self, grid, block, values):
        grid = tuple(grid) + (1,) * (3 - len(grid))
        block = tuple(block) + (1,) * (3 - len(block))
        pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        self.symbol(*grid, *block, pointers)


class EmulatorRuntime(cuda.CupyRuntime):
    """``CupyRuntime`` with the kernels built by g++ instead of NVRTC.

    Everything else is inherited: device arrays are the CuPy double's (installed beside it),
    new outputs come from its ``empty``, and ``minigan.cuda.launch`` checks the arguments
    before either runtime sees them.
    """
    poison = True

    def __init__(self, lib_path):
        self.lib = ctypes.CDLL(lib_path)

    def empty(self, shape, dtype):
        out = cupy_double.module.empty(shape, dtype=dtype)
        cupy_double.host(out).fill(np.nan)   # the poison is the tests' own: not counted
        return out

    def function(self, file, name, dtype):
        assert name in cuda.kernels(file), f"no kernel {name} in kernels/{file}.cu"
        return EmulatedKernel(getattr(self.lib, symbol(cuda.instance(name, dtype))), name)


def install(monkeypatch, lib_path):
    """The emulated GPU, for one test: the CuPy double as CuPy, our kernels on the CPU."""
    cupy_double.install(monkeypatch)
    monkeypatch.setattr(cuda, "runtime", EmulatorRuntime(lib_path))
