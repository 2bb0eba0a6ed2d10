"""Activations: relu, leaky_relu, tanh, sigmoid, softplus, logsigmoid."""
import numpy as np

from .. import cuda, threads
from ..autograd.function import Function
from ._args import kernel_dtype


class LeakyReLU(Function):
    """y = x if x > 0 else slope · x.    gx = LeakyReLUGrad(x, gy) = gy · (1 if x > 0 else slope)."""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        slope = x.dtype.type(self.slope)
        if 0 <= self.slope <= 1:
            # NOTE: for 0 ≤ slope ≤ 1 this is max(x, slope·x): two passes over x instead of
            # three, run in cache-sized pieces across the cores
            def piece(y, x):
                np.maximum(x, np.multiply(x, slope, out=y), out=y)
            return threads.map_pieces(piece, x.dtype, x)
        return np.where(x > 0, x, slope * x)

    def forward_cuda(self, x):
        y = cuda.empty_like(x)
        cuda.launch("leaky_relu", "leaky_relu_forward", x.dtype, cuda.blocks_for(x.size),
                    x, y, cuda.scalar(self.slope, x.dtype), np.int64(x.size))
        return y

    def backward(self, gy):
        x, = self.inputs   # saved for backward: x, to know which side of 0 each element is on
        return LeakyReLUGrad(self.slope)(x, gy)


class LeakyReLUGrad(Function):
    """gx = gy · (1 if x > 0 else slope): linear in gy, piecewise constant in x.

    So ggy = LeakyReLUGrad(x, ggx) and gx' = 0: second derivatives need no new kernel.
    """

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x, gy):
        slope = gy.dtype.type(self.slope)
        if 0 <= self.slope <= 1:
            # NOTE: the local slope is max([x > 0], slope), exact: three quick passes; gx by
            # NumPy's where with two scalars took 5x as long, by np.take 2x (roughly: 800k
            # float32 on a shared 2-core CPU, measured 2026-12-05)
            def piece(gx, x, gy):
                np.maximum(np.greater(x, 0, out=gx), slope, out=gx)
                gx *= gy
            return threads.map_pieces(piece, gy.dtype, x, gy)
        return gy * np.where(x > 0, gy.dtype.type(1), slope)

    def forward_cuda(self, x, gy):
        gx = cuda.empty_like(gy)
        cuda.launch("leaky_relu", "leaky_relu_backward_x", x.dtype, cuda.blocks_for(x.size),
                    x, gy, gx, cuda.scalar(self.slope, x.dtype), np.int64(x.size))
        return gx

    def backward(self, ggx):
        x, _ = self.inputs
        return None, LeakyReLUGrad(self.slope)(x, ggx)


class ReLU(LeakyReLU):
    """y = max(x, 0): LeakyReLU with slope 0, so its kernels and its gradient node too.

        gx = LeakyReLUGrad(x, gy) = gy · [x > 0]
    """

    def __init__(self):
        super().__init__(0.0)


class Tanh(Function):
    """y = tanh x.    gx = TanhGrad(y, gy) = gy · (1 - y²)."""

    def forward(self, x):
        return self.xp(x).tanh(x)

    def forward_cuda(self, x):
        y = cuda.empty_like(x)
        cuda.launch("activation", "tanh_forward", x.dtype, cuda.blocks_for(x.size),
                    x, y, np.int64(x.size))
        return y

    def backward(self, gy):
        y = self.outputs[0]()   # saved for backward: only y, through the weak reference
        return TanhGrad()(y, gy)


class TanhGrad(Function):
    """gx = gy · (1 - y²), from tanh's output y: linear in gy, so
        ggy = TanhGrad(y, ggx),   gy' = -2 y · gy · ggx."""

    def forward(self, y, gy):
        return gy * (1 - y * y)

    def forward_cuda(self, y, gy):
        gx = cuda.empty_like(gy)
        cuda.launch("activation", "tanh_backward_x", y.dtype, cuda.blocks_for(y.size),
                    y, gy, gx, np.int64(y.size))
        return gx

    def backward(self, ggx):
        y, gy = self.inputs
        g_y = -2 * y * gy * ggx if self.needs_input_grad[0] else None
        g_gy = TanhGrad()(y, ggx) if self.needs_input_grad[1] else None
        return g_y, g_gy


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).    gx = SigmoidGrad(y, gy) = gy · y · (1 - y)."""

    def forward(self, x):
        return sigmoid_array(x)

    def forward_cuda(self, x):
        y = cuda.empty_like(x)
        cuda.launch("activation", "sigmoid_forward", x.dtype, cuda.blocks_for(x.size),
                    x, y, np.int64(x.size))
        return y

    def backward(self, gy):
        y = self.outputs[0]()   # saved for backward: only y, through the weak reference
        return SigmoidGrad()(y, gy)


class SigmoidGrad(Function):
    """gx = gy · y · (1 - y), from the sigmoid's output y: linear in gy, so
        ggy = SigmoidGrad(y, ggx),   gy' = ggx · gy · (1 - 2y)."""

    def forward(self, y, gy):
        return gy * y * (1 - y)

    def forward_cuda(self, y, gy):
        gx = cuda.empty_like(gy)
        cuda.launch("activation", "sigmoid_backward_x", y.dtype, cuda.blocks_for(y.size),
                    y, gy, gx, np.int64(y.size))
        return gx

    def backward(self, ggx):
        y, gy = self.inputs
        g_y = ggx * gy * (1 - 2 * y) if self.needs_input_grad[0] else None
        g_gy = SigmoidGrad()(y, ggx) if self.needs_input_grad[1] else None
        return g_y, g_gy


class Softplus(Function):
    """y = ln(1 + e^x).    gx = gy · σ(x)."""

    def forward(self, x):
        return softplus_array(x)

    def backward(self, gy):
        x, = self.inputs
        return gy * sigmoid(x)


def sigmoid_array(x):
    """σ(x) on a NumPy or CuPy array (the forward of ``Sigmoid``, and BCE's gradient):
    with e = e^-|x|, σ(x) = 1 / (1 + e) for x ≥ 0 and e / (1 + e) for x < 0."""
    xp, one = Function.xp(x), x.dtype.type(1)
    # NOTE: e ≤ 1 never overflows, and e / (1 + e) keeps full relative accuracy where σ is
    # tiny (x ≪ 0), which (1 + tanh(x/2)) / 2 loses: it cancels to 0 from x ≈ -38 in
    # float64, from x ≈ -20 in float32.
    e = xp.exp(-abs(x))
    return xp.where(x >= 0, one / (one + e), e / (one + e))


def softplus_array(x):
    """ln(1 + e^x) on a NumPy or CuPy array (the forward of ``Softplus``, and BCE's loss)."""
    xp = Function.xp(x)
    # NOTE: max(x, 0) + log1p(e^-|x|) is ln(1 + e^x) without overflow, for logits of ±1e4 too.
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x)))


def relu(x):
    kernel_dtype("relu", input=x)
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    kernel_dtype("leaky_relu", input=x)
    return LeakyReLU(negative_slope)(x)


def tanh(x):
    kernel_dtype("tanh", input=x)
    return Tanh()(x)


def sigmoid(x):
    kernel_dtype("sigmoid", input=x)
    return Sigmoid()(x)


def softplus(x, beta=1.0):
    """ln(1 + e^(βx)) / β."""
    if beta == 1:
        return Softplus()(x)
    return Softplus()(x * beta) / beta


def logsigmoid(x):
    """ln σ(x) = -softplus(-x)."""
    return -Softplus()(-x)
