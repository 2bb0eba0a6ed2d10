"""``linear``: y = x Wᵀ + b, one op. The file is named for the map, affine, so that
``minigan.ops.linear`` (the function) does not hide the module."""
import numpy as np

from .. import arrays as numpy_arrays
from .. import cuda
from ..cuda import arrays as cuda_arrays
from ..autograd.function import Function
from .arith import matmul
from .reduce import sum
from .shape import reshape, transpose


class Linear(Function):
    """y = x Wᵀ + b, with x (N, in), W (out, in) as in PyTorch, b (out,).

        gx = gy W,   gW = gyᵀ x,   gb = Σₙ gy
    NOTE: one op rather than matmul(x, Wᵀ) + b: the composite's gW would come back
    as a transposed (Fortran-ordered) view, which Adam must copy before its passes.
    """

    every_dtype = True   # NOTE: on the GPU every product is our GEMM, never CuPy's cuBLAS

    def forward(self, x, W, b=None):
        y = numpy_arrays.product(x, W.T)
        if b is not None:
            y += b
        return y

    def forward_cuda(self, x, W, b=None):
        y = cuda_arrays.product(x, W.T)   # our GEMM, Wᵀ by its flag
        if b is not None:
            cuda.launch("arith", "add_bias", y.dtype, cuda.blocks_for(y.size), y, b,
                        np.int64(b.size), np.int64(y.size))
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        gx = matmul(gy, W) if self.needs_input_grad[0] else None
        gW = matmul(transpose(gy, 0, 1), x) if self.needs_input_grad[1] else None
        if len(self.inputs) == 2:
            return gx, gW
        gb = sum(gy, 0) if self.needs_input_grad[2] else None
        return gx, gW, gb


def linear(input, weight, bias=None):
    """y = x Wᵀ + b over the last axis of x; W (out_features, in_features) as in PyTorch."""
    if weight.ndim != 2 or input.ndim < 1 or input.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} has "
                         f"{input.shape[-1] if input.ndim else 0} features but weight of shape "
                         f"{tuple(weight.shape)} expects {weight.shape[-1]}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {tuple(bias.shape)} does not match weight of "
                         f"shape {tuple(weight.shape)}")
    if input.dtype != weight.dtype:
        raise TypeError(f"linear: expected input and weight of one dtype, got {input.dtype} "
                        f"and {weight.dtype}")
    args = (weight,) if bias is None else (weight, bias)
    if input.ndim == 2:
        return Linear()(input, *args)
    lead = input.shape[:-1]                        # (..., in) -> (N, in) -> (..., out)
    y = Linear()(reshape(input, -1, input.shape[-1]), *args)
    return reshape(y, *lead, weight.shape[0])
