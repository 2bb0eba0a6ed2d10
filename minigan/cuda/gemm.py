"""Products of device arrays: our GEMM kernel (kernels/gemm.cu), every product on the GPU.

The ops reach it through the namespace's ``minigan.cuda.arrays.product``, which tags it for
the profiler (this module imports nothing above minigan.cuda.memory)."""
import numpy as np

from .. import backend
from . import launching
from .memory import dense, empty


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
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"product: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                         f"multiplied (two matrices or stacks of them, a's columns = b's rows)")
    launching.get_kernel("gemm", "gemm", a.dtype)   # NOTE: a dtype without one fails before out
    xp = backend.get_array_module(a)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    (a, trans_a, stride_a), (b, trans_b, stride_b) = (_matrices(x, batch, xp) for x in (a, b))
    m, k = (a.shape[-1], a.shape[-2]) if trans_a else a.shape[-2:]
    n = b.shape[-2] if trans_b else b.shape[-1]
    out = empty(batch + (m, n), a.dtype)
    count = int(np.prod(batch, dtype=np.int64))
    tiles = count * -(-m // 64) * -(-n // 64)   # 64 x 64 outputs a block (kernels/gemm.cu)
    launching.launch("gemm", "gemm", out.dtype, max(1, min(launching.MAX_BLOCKS, tiles)), a, b,
                     out, np.int64(count), np.int64(m), np.int64(n), np.int64(k),
                     np.int32(trans_a), np.int32(trans_b), np.int64(stride_a), np.int64(stride_b))
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
