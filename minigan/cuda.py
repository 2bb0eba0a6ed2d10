"""The one loader of our CUDA kernels (``kernels/*.cu``) and the launch helper.

``kernel("leaky_relu", "leaky_relu_forward", dtype)`` compiles
``kernels/leaky_relu.cu`` once per process (a ``cupy.RawModule``; the source
is prefixed with ``#line 1 "kernels/leaky_relu.cu"`` so a compile error
points at the real file and line) and returns the template instance for
float32 or float64. ``launch`` calls it with a grid computed from the number
of elements.

The tests swap ``runtime`` for a CPU emulator (tests/cuda_emu) so the same
launch code runs on machines without a GPU.
"""
import functools
import os

import numpy as np

from . import backend

KERNEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels")
_CTYPE = {np.dtype("float32"): "float", np.dtype("float64"): "double"}

# every kernel, by file: each is a template over float and double
KERNELS = {
    "leaky_relu": ["leaky_relu_forward", "leaky_relu_backward_x"],
    "bce_with_logits": ["bce_with_logits_forward", "bce_with_logits_backward",
                        "sum_partials"],
    "batch_norm": ["batch_norm_forward_stats", "batch_norm_forward_normalize",
                   "batch_norm_backward_reduce", "batch_norm_backward_x"],
    "conv": ["im2col", "col2im", "transpose2d"],
    "adam": ["adam_update"],
}

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
            from cupy._core import _routines_linalg as linalg
            mode = linalg.COMPUTE_TYPE_TF32 if flag else linalg.COMPUTE_TYPE_DEFAULT
            linalg.set_compute_type(np.float32, mode)


matmul = _Matmul()
if backend.cupy is not None:
    try:
        matmul.allow_tf32 = False   # NOTE: CuPy turns TF32 on when CUPY_TF32=1 is set; we start off
    except Exception:               # an older CuPy without the switch: importing must still work
        pass


def source(file):
    """The text CuPy compiles: a #line directive, then the file."""
    path = os.path.join(KERNEL_DIR, file + ".cu")
    with open(path) as f:
        return f'#line 1 "kernels/{file}.cu"\n' + f.read()


class CupyRuntime:
    """Compiles with NVRTC through CuPy, launches on the current GPU."""

    @functools.lru_cache(maxsize=None)
    def module(self, file):
        import cupy
        names = [f"{k}<{t}>" for k in KERNELS[file] for t in _CTYPE.values()]
        return cupy.RawModule(code=source(file), options=("-std=c++17",), name_expressions=names)

    def function(self, file, name, dtype):
        return self.module(file).get_function(f"{name}<{_CTYPE[np.dtype(dtype)]}>")

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


def kernel(file, name, dtype):
    """The compiled ``name<float|double>`` from ``kernels/<file>.cu``."""
    return runtime.function(file, name, dtype)


def empty(shape, dtype):
    """A new array for a kernel to write (NaN-filled while the tests poison outputs)."""
    return runtime.empty(shape, dtype)


def empty_like(array):
    return runtime.empty(array.shape, array.dtype)


def blocks_for(n, threads=THREADS):
    return max(1, min(MAX_BLOCKS, (n + threads - 1) // threads))


def launch(file, name, dtype, n, *args):
    """Launch an elementwise kernel over ``n`` items (a grid-stride loop inside the kernel)."""
    kernel(file, name, dtype)((blocks_for(n),), (THREADS,), args)


# NOTE: CuPy passes None to a kernel as 0xffffffff, not NULL; an 8-byte zero is NULL.
NULL = np.uint64(0)


def pointer(array):
    """An optional array argument: the array, or NULL."""
    return NULL if array is None else array


def scalar(value, dtype):
    """A kernel argument of the array's dtype (float32 or float64)."""
    return np.dtype(dtype).type(value)
