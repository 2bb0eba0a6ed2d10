"""Reductions: sum, mean, var, max/min over a dim."""
import builtins

import numpy as np

from .. import cuda
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
        lead = len(axes)
        channels = x.ndim >= 3 and axes == (0,) + tuple(range(2, x.ndim))   # all but axis 1
        if (axes != tuple(range(lead)) and not channels) or lead == 0 \
                or x.dtype not in cuda.FLOAT_TYPES:
            return self.forward(x)   # other axes, or integers: CuPy's own sum
        shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape)) if self.keepdims \
            else tuple(s for a, s in enumerate(x.shape) if a not in axes)
        y = cuda.empty(shape, x.dtype)
        divisor = cuda.scalar(self.divisor, x.dtype)
        if channels:         # (N, C, S) -> (C,): a conv's gb, in two stages that fill the card
            n, c, s = x.shape[0], x.shape[1], int(np.prod(x.shape[2:]))
            parts = cuda.channel_parts(c, n * s)
            partial = cuda.empty(c * parts, x.dtype)
            cuda.launch("reduce", "sum_channels_partial", x.dtype,
                        cuda.blocks_for(c * parts, threads=1), x, partial,
                        *map(np.int64, (n, c, s, parts)))
            cuda.launch("reduce", "sum_channels", x.dtype, cuda.blocks_for(c), partial, y,
                        divisor, np.int64(c), np.int64(parts))
        elif lead == x.ndim:   # every axis: one fixed-order block, for a loss or a metric
            cuda.launch("reduce", "sum_all", x.dtype, 1, x, y, divisor, np.int64(x.size))
        else:                # (R, C) -> (C,): Linear's gb, a thread a column
            cols = y.size
            cuda.launch("reduce", "sum_rows", x.dtype, cuda.blocks_for(cols), x, y, divisor,
                        np.int64(x.size // cols), np.int64(cols))
        return y

    def backward(self, gy):
        if self.divisor != 1:
            gy = gy / self.divisor
        if not self.keepdims and self.axes is not None:
            kept = list(self.in_shape)       # put the summed axes back as size 1
            for a in self.axes:
                kept[a] = 1
            gy = reshape(gy, *kept)
        return broadcast_to(gy, self.in_shape)


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
