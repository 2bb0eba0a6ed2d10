"""Elementwise arithmetic and matmul.

Each op's backward returns the gradient in the shape of the broadcast result;
the engine sums it back to each input's shape (``sum_to``), so no op repeats
the broadcasting rule.
"""
import numpy as np

from ..autograd.function import Function
from .. import arrays as numpy_arrays
from .. import backend, cuda
from ..cuda import arrays as cuda_arrays
from ..tensor import Tensor, as_tensor


class Add(Function):
    """y = a + b.    ga = gy,  gb = gy."""

    def forward(self, a, b):
        return a + b

    def forward_cuda(self, a, b):
        shape = np.broadcast_shapes(a.shape, b.shape)
        if a.shape == shape and b.shape != shape and _trailing(b.shape, shape):
            a, b = b, a   # NOTE: a + b is b + a, bit for bit
        if b.shape == shape and a.shape != shape and _trailing(a.shape, shape):
            # a (Q,) spread over b (P, Q): y = b, then y += a along each row; no temporary
            y = cuda_arrays.copy(cuda.empty(shape, b.dtype), b)
            cuda.launch("arith", "add_bias", y.dtype, cuda.blocks_for(y.size), y, a,
                        np.int64(a.size), np.int64(y.size))
            return y
        # NOTE: an operand that broadcasts is spread to y's shape first, value for value
        a, b = (x if x.shape == shape else cuda_arrays.broadcast(x, shape) for x in (a, b))
        y = cuda.empty(shape, a.dtype)
        cuda.launch("arith", "add_forward", a.dtype, cuda.blocks_for(y.size), a, b, y,
                    np.int64(y.size))
        return y

    def backward(self, gy):
        return gy, gy


def _trailing(small, shape):
    """True when an operand of shape ``small`` broadcasts to ``shape`` by leading axes only:
    its values, repeated, are y's, row after row (``shape`` viewed as (P, Q), small as (Q,))."""
    small = tuple(small)
    while small and small[0] == 1:
        small = small[1:]
    return len(small) > 0 and tuple(shape[len(shape) - len(small):]) == small


class Sub(Function):
    """y = a - b.    ga = gy,  gb = -gy."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b.    ga = gy * b,  gb = gy * a."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * b if self.needs_input_grad[0] else None
        gb = gy * a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b.    ga = gy / b,  gb = -gy * a / b²."""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x.    gx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = x ** c for a constant number c.    gx = gy * c * x ** (c - 1)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x ** self.c

    def backward(self, gy):
        x, = self.inputs
        return gy * self.c * x ** (self.c - 1)


class PowTensor(Function):
    """y = a ** b with b a tensor.    ga = gy * b * a ** (b - 1),  gb = gy * y * log(a)."""

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * b * a ** (b - 1) if self.needs_input_grad[0] else None
        gb = gy * self.outputs[0]() * log(a) if self.needs_input_grad[1] else None
        return ga, gb


class Exp(Function):
    """y = e^x.    gx = gy * y."""

    def forward(self, x):
        return self.xp(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]()


class Log(Function):
    """y = ln x.    gx = gy / x."""

    def forward(self, x):
        return self.xp(x).log(x)

    def backward(self, gy):
        x, = self.inputs
        return gy / x


class Sqrt(Function):
    """y = √x.    gx = gy / (2 y)."""

    def forward(self, x):
        return self.xp(x).sqrt(x)

    def backward(self, gy):
        return gy / (2 * self.outputs[0]())


class Abs(Function):
    """y = |x|.    gx = gy * sign(x)  (0 at x = 0, as PyTorch)."""

    def forward(self, x):
        xp = self.xp(x)
        self.sign = xp.sign(x)   # a constant: the derivative of sign is 0
        return xp.abs(x)         # not abs(x): that name is this module's public abs

    def backward(self, gy):
        return gy * self.sign


class Clamp(Function):
    """y = min(max(x, lo), hi).    gx = gy where lo ≤ x ≤ hi, else 0."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        xp = self.xp(x)
        y = x
        mask = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
            y = xp.maximum(y, xp.asarray(self.lo, dtype=x.dtype))
        if self.hi is not None:
            mask &= x <= self.hi
            y = xp.minimum(y, xp.asarray(self.hi, dtype=x.dtype))
        self.mask = mask.astype(x.dtype)
        return y

    def backward(self, gy):
        return gy * self.mask


class Where(Function):
    """y = a where cond else b (cond is a constant).    ga = gy·[cond],  gb = gy·[not cond]."""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return self.xp(a, b).where(self.cond, a, b)

    def backward(self, gy):
        zero = gy.data.dtype.type(0)
        ga = where(self.cond, gy, zero) if self.needs_input_grad[0] else None
        gb = where(self.cond, zero, gy) if self.needs_input_grad[1] else None
        return ga, gb


class MatMul(Function):
    """y = a @ b over the last two axes, batch axes broadcast.

    ga = gy @ bᵀ,  gb = aᵀ @ gy   (ᵀ swaps the last two axes).
    """

    dense_inputs = False   # NOTE: our GEMM takes a transposed view (gy @ bᵀ) by its flag
    every_dtype = True     # NOTE: on the GPU every product is our GEMM, never CuPy's cuBLAS

    def forward(self, a, b):
        return numpy_arrays.product(a, b)

    def forward_cuda(self, a, b):
        return cuda_arrays.product(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = matmul(gy, b.transpose(-1, -2)) if self.needs_input_grad[0] else None
        gb = matmul(a.transpose(-1, -2), gy) if self.needs_input_grad[1] else None
        return ga, gb


class Cast(Function):
    """y = x as another dtype.    gx = gy cast back to x's dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.in_dtype)


class ToDevice(Function):
    """y = x copied to another device.    gx = gy copied back."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.in_device = backend.arrays_for(x).device   # where gx goes back to
        return backend.to_device(x, self.device)   # the array function, not this op's

    def backward(self, gy):
        return to_device(gy, self.in_device)


class Clone(Function):
    """y = a copy of x.    gx = gy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


# ---- public functions ----
def _broadcasting(name, fn, a, b):
    """``fn(a, b)``, whose error names the op and both shapes when they do not broadcast."""
    try:
        return fn(a, b)
    except ValueError:
        # NOTE: checked only after a failure, so that the common case pays nothing.
        shapes = [tuple(getattr(x, "shape", ())) for x in (a, b)]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(f"{name}: shapes {shapes[0]} and {shapes[1]} cannot be broadcast "
                             f"together") from None
        raise


def add(a, b):
    return _broadcasting("add", Add(), a, b)


def add_into(y, x):
    """y += x in place, unrecorded: how the engine accumulates a leaf's ``.grad``.

    y and x are Tensors of one shape and dtype; y's memory is dense and owned by y.
    """
    # NOTE: assigned back: a 0-d result of NumPy is a scalar, which += replaces
    y.data = backend.arrays_for(y.data).add_into(y.data, x.data)


def sub(a, b):
    return _broadcasting("sub", Sub(), a, b)


def mul(a, b):
    return _broadcasting("mul", Mul(), a, b)


def div(a, b):
    return _broadcasting("div", Div(), a, b)


def neg(x):
    return Neg()(x)


def pow(x, exponent):
    if isinstance(exponent, Tensor) or not isinstance(x, Tensor):   # tensor or number ** tensor
        return _broadcasting("pow", PowTensor(), x, exponent)
    return Pow(exponent)(x)


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def abs(x):
    return Abs()(x)


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp(min, max)(x)


def where(condition, a, b):
    """Elementwise ``a if condition else b``; ``condition`` is a bool tensor or array."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    return Where(cond)(a, b)


def matmul(a, b):
    """Matrix product with PyTorch's rules: 1-D operands are promoted, batch axes broadcast."""
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                         f"multiplied ({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: expected both operands to have the same dtype, got {a.dtype} "
                        f"and {b.dtype}")
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:                                  # (K,) @ (..., K, M) -> (..., M)
        return MatMul()(a.reshape(1, -1), b).squeeze(-2)
    if b.ndim == 1:                                  # (..., N, K) @ (K,) -> (..., N)
        return MatMul()(a, b.reshape(-1, 1)).squeeze(-1)
    return MatMul()(a, b)


def cast(x, dtype):
    return Cast(dtype)(x)


def to_device(x, device):
    return ToDevice(device)(x)


def clone(x):
    return Clone()(x)
