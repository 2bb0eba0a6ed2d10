"""Ops that move elements without changing them: reshape, permute, broadcast, index, cat."""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor


class Reshape(Function):
    """y = x with another shape.    gx = gy reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.in_shape)


class Permute(Function):
    """y = x with its axes reordered.    gx = gy with the inverse order."""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = sorted(range(len(self.axes)), key=self.axes.__getitem__)
        return permute(gy, *inverse)


class BroadcastTo(Function):
    """y = x repeated along broadcast axes.    gx = gy summed over them (sum_to)."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        # NOTE: written out with one fill, not left a stride-0 view: the backward of sum, mean
        # and expand is this op, and what it feeds (a kernel, a .grad) needs dense memory
        return self.xp(x).broadcast_to(x, self.shape).copy()

    def backward(self, gy):
        return sum_to(gy, self.in_shape)


class SumTo(Function):
    """y = x summed over the axes that broadcasting added to reach x.shape from ``shape``.

    gx = gy broadcast back to x.shape.  The engine calls it to undo broadcasting.
    """

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        lead = x.ndim - len(self.shape)
        if lead < 0 or any(s != 1 and s != t for s, t in zip(self.shape, x.shape[lead:])):
            raise ValueError(f"sum_to: shape {tuple(x.shape)} does not broadcast from "
                             f"{self.shape}; a backward returned a gradient of the wrong shape")
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(self.shape)
                                          if s == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True)
        return y.reshape(self.shape) if lead else y

    def backward(self, gy):
        return broadcast_to(gy, self.in_shape)


class GetItem(Function):
    """y = x[key].    gx = zeros with gy added at x[key] (GetItemGrad)."""

    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.key]

    def backward(self, gy):
        return GetItemGrad(self.key, self.in_shape)(gy)


class GetItemGrad(Function):
    """y = zeros(shape) with x added at [key].    gx = gy[key]."""

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, gy):
        xp = self.xp(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        if _is_basic(self.key):
            gx[self.key] = gy             # basic indexing never repeats an element
        else:
            xp.add.at(gx, self.key, gy)   # advanced indexing may: add every copy
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.key)


class Cat(Function):
    """y = the inputs joined along ``axis``.    each gx = its slice of gy."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return self.xp(*xs).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        gxs, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad):
            index = [slice(None)] * gy.ndim
            index[self.axis] = slice(start, start + size)
            gxs.append(getitem(gy, tuple(index)) if needed else None)
            start += size
        return tuple(gxs)


def _is_basic(key):
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in keys)


def _axis(dim, ndim, op):
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def _shape_args(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


# ---- public functions ----
def reshape(x, *shape):
    shape = _shape_args(shape)
    if tuple(shape) == tuple(x.shape):
        return x
    known = 1
    for s in shape:
        known *= s if s != -1 else 1
    if (shape.count(-1) == 0 and known != x.numel()) or shape.count(-1) > 1 or \
            (shape.count(-1) == 1 and (known == 0 or x.numel() % known)):
        raise ValueError(f"reshape: shape {tuple(shape)} is invalid for input of shape "
                         f"{tuple(x.shape)} ({x.numel()} elements)")
    return Reshape(tuple(shape))(x)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def permute(x, *dims):
    dims = tuple(_axis(d, x.ndim, "permute") for d in _shape_args(dims))
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} axes of "
                         f"shape {tuple(x.shape)}")
    return Permute(dims)(x)


def transpose(x, dim0, dim1):
    dims = list(range(x.ndim))
    a, b = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    dims[a], dims[b] = dims[b], dims[a]
    return Permute(tuple(dims))(x)


def unsqueeze(x, dim):
    dim = _axis(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


def squeeze(x, dim=None):
    if dim is None:
        return reshape(x, *[s for s in x.shape if s != 1])
    dim = _axis(dim, x.ndim, "squeeze")
    if x.ndim == 0 or x.shape[dim] != 1:
        return x
    return reshape(x, *x.shape[:dim], *x.shape[dim + 1:])


def broadcast_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return BroadcastTo(shape)(x)


def expand(x, *shape):
    shape = _shape_args(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {tuple(x.shape)} to {tuple(shape)}")
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    for i, s in enumerate(x.shape):
        if s != 1 and s != full[i + lead]:
            raise ValueError(f"expand: cannot expand shape {tuple(x.shape)} to {tuple(shape)} "
                             f"(dim {i} has size {s})")
    return broadcast_to(x, full)


def sum_to(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    return SumTo(shape)(x)


def getitem(x, key):
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    elif isinstance(key, list):
        key = np.asarray(key)
    return GetItem(key)(x)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ndim = tensors[0].ndim
    axis = _axis(dim, ndim, "cat")
    for t in tensors:
        if t.ndim != ndim or any(s != r for i, (s, r) in enumerate(zip(t.shape, tensors[0].shape))
                                  if i != axis):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"cat: shapes {shapes} differ outside dim {dim}")
    return Cat(axis)(*tensors)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: expects each tensor to be equal size, got {sorted(shapes)}")
    dim = _axis(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, dim) for t in tensors], dim)
