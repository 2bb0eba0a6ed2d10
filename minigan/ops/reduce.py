"""Reductions: sum, mean, var, max/min over a dim."""
import builtins

import numpy as np

from .. import cuda
from ..cuda import arrays as cuda_arrays
from ..autograd.function import Function
from ..tensor import Tensor
from .shape import broadcast_to, reshape


def _axes(dim, ndim, op):
    if dim is None:
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    for d in dims:
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(d % builtins.max(ndim, 1) for d in dims))


class Sum(Function):
    """y = Σ x over ``axes`` / divisor (a mean: divisor = the count).

        gx = gy / divisor broadcast back to x.shape
    """

    def __init__(self, axes, keepdims, divisor=1):
        self.axes, self.keepdims, self.divisor = axes, keepdims, divisor

    def forward(self, x):
        self.in_shape = x.shape
        y = x.sum(axis=self.axes, keepdims=self.keepdims)
        return y if self.divisor == 1 else y / x.dtype.type(self.divisor)

    def forward_cuda(self, x):
        self.in_shape = x.shape
        axes = tuple(range(x.ndim)) if self.axes is None else tuple(self.axes)
        shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape)) if self.keepdims \
            else tuple(s for a, s in enumerate(x.shape) if a not in axes)
        if not axes:   # a sum over no axis is a copy (and its divisor, the count, is 1)
            return cuda.copy(cuda.empty(shape, x.dtype), x)
        divisor = cuda.scalar(self.divisor, x.dtype)
        if x.ndim >= 3 and axes == (0,) + tuple(range(2, x.ndim)):   # all but axis 1
            # (N, C, S) -> (C,): a conv's gb, in two stages that fill the card
            n, c, s = x.shape[0], x.shape[1], int(np.prod(x.shape[2:]))
            parts = cuda.channel_parts(c, n * s)
            partial = cuda.empty(c * parts, x.dtype)
            cuda.launch("reduce", "sum_channels_partial", x.dtype,
                        cuda.blocks_for(c * parts, threads=1), x, partial,
                        *map(np.int64, (n, c, s, parts)))
            y = cuda.empty(shape, x.dtype)
            cuda.launch("reduce", "sum_channels", x.dtype, cuda.blocks_for(c), partial, y,
                        divisor, np.int64(c), np.int64(parts))
            return y
        if len(axes) == x.ndim:   # every axis: one fixed-order block, for a loss or a metric
            y = cuda.empty(shape, x.dtype)
            cuda.launch("reduce", "sum_all", x.dtype, 1, x, y, divisor, np.int64(x.size))
            return y
        return _sum_axes(x, axes, divisor).reshape(shape)

    def backward(self, gy):
        if self.divisor != 1:
            gy = gy / self.divisor
        if not self.keepdims and self.axes is not None:
            kept = list(self.in_shape)       # put the summed axes back as size 1
            for a in self.axes:
                kept[a] = 1
            gy = reshape(gy, *kept)
        return broadcast_to(gy, self.in_shape)


def _sum_axes(x, axes, divisor):
    """Σ of a dense device array x over ``axes`` (some, not all) / divisor, the summed axes
    kept as 1s: kernels/reduce.cu's sum_rows, a thread a column of x viewed as (n, C), or
    its sum_last, a block a row of x viewed as (P, n).

    Leading axes are summed as they are (Linear's gb: one launch), and so are trailing ones
    whose rows hold at least THREADS values (a sum per sample, LayerNorm's means: one
    launch, a block a row, so that a few long rows still fill the card). Another run of
    summed axes is brought to the front by a transpose (cuda.arrays), summed, and the rest
    put back: x viewed as (P, n, Q) becomes (n, Q, P), sums to (Q, P), then (P, Q). The
    runs are summed from the last; the divisor divides in the last sum.
    """
    shape = list(x.shape)
    runs = []   # [first, end) of each run of summed axes
    for a in axes:
        if runs and runs[-1][1] == a:
            runs[-1][1] = a + 1
        else:
            runs.append([a, a + 1])
    for i, (first, end) in reversed(list(enumerate(runs))):
        p, n = int(np.prod(shape[:first])), int(np.prod(shape[first:end]))
        q = int(np.prod(shape[end:]))
        last = cuda.scalar(1, x.dtype) if i else divisor
        # NOTE: a block a row only for rows of at least THREADS values: a shorter row would
        # leave most of a block idle, so it goes a thread a column, after a transpose
        if q == 1 and n >= cuda.THREADS:                    # (P, n) -> (P,): a block a row
            y = cuda.empty(p, x.dtype)
            cuda.launch("reduce", "sum_last", x.dtype, cuda.blocks_for(p, threads=1), x, y,
                        last, np.int64(p), np.int64(n))
        else:
            if p > 1:                                       # (P, n, Q) -> (n, Q, P)
                x = cuda_arrays.transpose(x, p)
            y = cuda.empty(q * p, x.dtype)
            cuda.launch("reduce", "sum_rows", x.dtype, cuda.blocks_for(y.size), x, y, last,
                        np.int64(n), np.int64(q * p))
            if p > 1 and q > 1:                             # (Q, P) -> (P, Q)
                y = cuda_arrays.transpose(y, q)
        shape[first:end] = [1] * (end - first)
        x = y.reshape(shape)
    return x


class MaxMin(Function):
    """y = max (or min) of x along ``axis``, with the indices.

    gx = gy at the position that was chosen, 0 elsewhere (ties: the first, as argmax).
    """

    def __init__(self, axis, keepdims, take_max):
        self.axis, self.keepdims, self.take_max = axis, keepdims, take_max

    def forward(self, x):
        xp = self.xp(x)
        index = (xp.argmax if self.take_max else xp.argmin)(x, axis=self.axis, keepdims=True)
        y = xp.take_along_axis(x, index, axis=self.axis)
        # a constant one-hot mask: where each output came from
        self.mask = xp.zeros_like(x)
        xp.put_along_axis(self.mask, index, 1, axis=self.axis)
        if not self.keepdims:
            y, index = y.squeeze(self.axis), index.squeeze(self.axis)
        return y, index

    def backward(self, gy, g_index=None):
        x, = self.inputs
        if not self.keepdims:
            gy = reshape(gy, *[1 if a == self.axis else s for a, s in enumerate(x.shape)])
        return broadcast_to(gy, x.shape) * self.mask


# ---- public functions ----
def sum(x, dim=None, keepdim=False):
    return Sum(_axes(dim, x.ndim, "sum"), keepdim)(x)


def mean(x, dim=None, keepdim=False):
    axes = _axes(dim, x.ndim, "mean")
    count = x.numel() if axes is None else _prod(x.shape[a] for a in axes)
    return Sum(axes, keepdim, count)(x)


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(dim, x.ndim, "var")
    count = x.numel() if axes is None else _prod(x.shape[a] for a in axes)
    centered = x - mean(x, dim, keepdim=True)
    return sum(centered * centered, dim, keepdim) / builtins.max(count - correction, 0)


def _maxmin(x, dim, keepdim, take_max):
    if dim is None:                      # over everything: the value alone
        return MaxMin(0, False, take_max)(reshape(x, -1))[0]
    axis = _axes(dim, x.ndim, "max" if take_max else "min")[0]
    return MaxMin(axis, keepdim, take_max)(x)


def max(x, dim=None, keepdim=False):
    """``max(x)`` is the largest element; ``max(x, dim)`` is (values, indices) along dim."""
    return _maxmin(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False):
    return _maxmin(x, dim, keepdim, False)


def argmax(x, dim=None, keepdim=False):
    xp = Function.xp(x.data)
    if dim is None:
        return Tensor(xp.asarray(x.data.argmax()))
    return Tensor(x.data.argmax(axis=_axes(dim, x.ndim, "argmax")[0], keepdims=keepdim))


def _prod(values):
    p = 1
    for v in values:
        p *= v
    return p
