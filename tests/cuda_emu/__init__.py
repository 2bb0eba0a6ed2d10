"""Run our CUDA kernels on the CPU: every kernels/*.cu is compiled with g++ against
cuda_emu.h, and ``EmulatorRuntime`` stands in for ``minigan.cuda.CupyRuntime``.

With it installed, NumPy arrays take the ``forward_cuda`` paths: the same
launch code, grid sizes and kernels as on a GPU, one CPU thread per CUDA
thread. What it cannot show: speed, coalescing, or bugs that need real
concurrency between blocks.
"""
import ctypes
import os
import shutil
import subprocess

import numpy as np

from minigan import cuda

HERE = os.path.dirname(os.path.abspath(__file__))
_CTYPE = {np.dtype("float32"): "float", np.dtype("float64"): "double"}
_ARG = {np.float32: ctypes.c_float, np.float64: ctypes.c_double, np.int32: ctypes.c_int,
        np.int64: ctypes.c_longlong, np.uint64: ctypes.c_uint64}


def build(folder):
    """Compile every kernel of minigan.cuda.KERNELS into one shared library; its path."""
    compiler = shutil.which("g++")
    if compiler is None:
        return None
    lines = ['#include "cuda_emu.h"']
    for file, names in cuda.KERNELS.items():
        path = os.path.join(cuda.KERNEL_DIR, file) + ".cu"
        lines.append(f'#include "{path}"')
        with open(path) as f:
            export = "EMU_EXPORT" if "__syncthreads" in f.read() else "EMU_EXPORT_SEQUENTIAL"
        for name in names:
            for ctype in _CTYPE.values():
                lines.append(f"{export}({name}__{ctype}, {name}<{ctype}>)")
    src = os.path.join(folder, "exports.cpp")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    lib = os.path.join(folder, "libcuda_emu.so")
    subprocess.run([compiler, "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread",
                    "-I", HERE, "-o", lib, src], check=True, capture_output=True, text=True)
    return lib


class EmulatedKernel:
    def __init__(self, symbol):
        self.symbol = symbol

    def __call__(self, grid, block, args):
        grid = tuple(grid) + (1,) * (3 - len(grid))
        block = tuple(block) + (1,) * (3 - len(block))
        values = []
        for a in args:
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, "kernels take C-contiguous arrays"
                values.append(ctypes.c_void_p(a.ctypes.data))
            elif type(a) in _ARG:
                values.append(_ARG[type(a)](a))
            else:
                raise TypeError(f"kernel argument of type {type(a).__name__}: pass a NumPy "
                                f"scalar of the C type (np.int64 for long long, ...)")
        pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        self.symbol(*grid, *block, pointers)


class EmulatorRuntime:
    """Stands in for CupyRuntime: NumPy arrays count as 'on the device'."""
    poison = True

    def __init__(self, lib_path):
        self.lib = ctypes.CDLL(lib_path)

    def function(self, file, name, dtype):
        assert name in cuda.KERNELS[file], f"{name} is not listed under {file} in cuda.KERNELS"
        return EmulatedKernel(getattr(self.lib, f"{name}__{_CTYPE[np.dtype(dtype)]}"))

    @staticmethod
    def handles(array):
        return isinstance(array, np.ndarray)

    def empty(self, shape, dtype):
        out = np.empty(shape, dtype=dtype)
        if self.poison:
            out.fill(np.nan)
        return out
