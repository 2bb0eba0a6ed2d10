"""2-D pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d.

A kH×kW window slides with stride s over the image x̃, x padded by p. Each tap
(u, v) of the window, taken at every window position at once, is one strided
view of x̃ (a basic slice, no copy):

    x̃[:, :, u : u + s(Hout - 1) + 1 : s,  v : v + s(Wout - 1) + 1 : s]     (N, C, Hout, Wout)

so every op here is a loop over the kH·kW taps of whole-array NumPy lines:
forward reads the tap views, backward adds into them (as conv's col2im).

NOTE: not one (N, C, Hout, Wout, kH, kW) window view reduced over its last two
axes (im2col's layout): NumPy reduces those short inner axes row by row, and
that was 2-10× slower than this tap loop for 2×2 windows.

Each gradient is linear in gy, and its adjoint is the op itself (for max pooling,
with the winning taps held fixed: ``TakeTaps``), so these Functions give
derivatives of any order.
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ._args import pair


def pool_outsize(size, k, s, p):
    """Output length of a pooling: ⌊(size + 2p - k) / s⌋ + 1."""
    return (size + 2 * p - k) // s + 1


def pad(x, padding, fill):
    """(N, C, H, W) -> (N, C, H + 2p, W + 2p), the border set to ``fill``."""
    (ph, pw), (n, c, h, w) = padding, x.shape
    if ph == pw == 0:
        return x
    img = get_array_module(x).full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    img[:, :, ph:ph + h, pw:pw + w] = x
    return img


def taps(kernel, stride, out_size):
    """The index of each tap (u, v), row-major:

        x̃[index][n, c, i, j] = x̃[n, c, s·i + u, s·j + v]
    """
    (kh, kw), (sy, sx), (oh, ow) = kernel, stride, out_size
    return [(slice(None), slice(None), slice(u, u + sy * (oh - 1) + 1, sy),
             slice(v, v + sx * (ow - 1) + 1, sx)) for u in range(kh) for v in range(kw)]


def out_size(x_size, kernel, stride, padding):
    """(Hout, Wout) of a pooling of an (H, W) image."""
    return tuple(pool_outsize(x_size[a], kernel[a], stride[a], padding[a]) for a in range(2))


def canvas(gy, in_size, padding):
    """Zeros (N, C, H + 2p, W + 2p) for a backward to add gy into, tap by tap."""
    n, c = gy.shape[:2]
    (h, w), (ph, pw) = in_size, padding
    return get_array_module(gy).zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)


def crop(img, in_size, padding):
    """(N, C, H + 2p, W + 2p) -> (N, C, H, W), dense: the padding cut off."""
    (h, w), (ph, pw) = in_size, padding
    return get_array_module(img).ascontiguousarray(img[:, :, ph:ph + h, pw:pw + w])


class MaxPool2d(Function):
    """y = the largest value of each window of x, padded with -∞.

        y[n, c, i, j] = max_{u,v} x̃[n, c, s·i + u, s·j + v] = x̃[n, c, s·i + u*, s·j + v*]
        gx = MaxPool2dGrad(gy): gy[n, c, i, j] added at the winning tap (u*, v*)
    (ties: the first tap in row-major order, as PyTorch).
    """

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        xp = self.xp(x)
        self.in_size = x.shape[2:]
        out = out_size(self.in_size, self.kernel, self.stride, self.padding)
        # NOTE: pad with -∞, so a padded tap never wins (padding ≤ kernel / 2 leaves every
        # window a real value)
        img = pad(x, self.padding, -xp.inf)
        views = [img[index] for index in taps(self.kernel, self.stride, out)]   # (N, C, Hout, Wout)
        y = views[0].copy()
        for view in views[1:]:
            xp.maximum(y, view, out=y)
        # saved for backward: the winning tap, (N, C, Hout, Wout); the first that holds the max
        winner = xp.full(y.shape, len(views) - 1, dtype=xp.int32)
        for t in range(len(views) - 2, -1, -1):
            winner = xp.where(views[t] == y, xp.int32(t), winner)
        self.winner = winner
        return y

    def backward(self, gy):
        return MaxPool2dGrad(self.kernel, self.stride, self.padding, self.winner,
                             self.in_size)(gy)


class MaxPool2dGrad(Function):
    """gx of y = max_pool2d(x), from gy and the winning taps (constants).

        gx[n, c, s·i + u*, s·j + v*] += gy[n, c, i, j]      (summed where windows overlap)
    Linear in gy; its adjoint reads ggx at the same taps:
        ggy = TakeTaps(winner)(ggx)
    """

    def __init__(self, kernel, stride, padding, winner, in_size):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.winner, self.in_size = winner, in_size

    def forward(self, gy):
        gx = canvas(gy, self.in_size, self.padding)
        for t, index in enumerate(taps(self.kernel, self.stride, gy.shape[2:])):
            gx[index] += gy * (self.winner == t)
        return crop(gx, self.in_size, self.padding)

    def backward(self, ggx):
        return TakeTaps(self.kernel, self.stride, self.padding, self.winner, self.in_size)(ggx)


class TakeTaps(Function):
    """Max pooling with the winning taps held fixed: each window's value at a given tap.

        y[n, c, i, j] = x̃[n, c, s·i + u*, s·j + v*]      (u*, v*) = winner[n, c, i, j]
    MaxPool2dGrad's adjoint, and linear in x: its gradient is MaxPool2dGrad with the same taps.
    """

    def __init__(self, kernel, stride, padding, winner, in_size):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.winner, self.in_size = winner, in_size

    def forward(self, x):
        xp = self.xp(x)
        # NOTE: no winning tap is in the padding (-∞ lost there in MaxPool2d): 0 will do
        img = pad(x, self.padding, 0)
        y = xp.zeros(self.winner.shape, dtype=x.dtype)
        for t, index in enumerate(taps(self.kernel, self.stride, y.shape[2:])):
            y = xp.where(self.winner == t, img[index], y)   # (N, C, Hout, Wout)
        return y

    def backward(self, gy):
        return MaxPool2dGrad(self.kernel, self.stride, self.padding, self.winner,
                             self.in_size)(gy)


class AvgPool2d(Function):
    """y = the mean of each window of x, zero-padded (the padding counts, PyTorch's default).

        y[n, c, i, j] = Σ_{u,v} x̃[n, c, s·i + u, s·j + v] / (kH kW)
        gx = AvgPool2dGrad(gy): gy[n, c, i, j] / (kH kW) added at every tap of window (i, j)
    """

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        self.in_size = x.shape[2:]
        out = out_size(self.in_size, self.kernel, self.stride, self.padding)
        img = pad(x, self.padding, 0)
        index = taps(self.kernel, self.stride, out)
        y = img[index[0]].copy()
        for i in index[1:]:
            y += img[i]
        return y / x.dtype.type(len(index))

    def backward(self, gy):
        return AvgPool2dGrad(self.kernel, self.stride, self.padding, self.in_size)(gy)


class AvgPool2dGrad(Function):
    """gx of y = avg_pool2d(x):  gx[n, c, s·i + u, s·j + v] += gy[n, c, i, j] / (kH kW).

    Linear in gy, and the adjoint of avg pooling:  ggy = AvgPool2d(ggx).
    """

    def __init__(self, kernel, stride, padding, in_size):
        self.kernel, self.stride, self.padding, self.in_size = kernel, stride, padding, in_size

    def forward(self, gy):
        index = taps(self.kernel, self.stride, gy.shape[2:])
        share = gy / gy.dtype.type(len(index))
        gx = canvas(gy, self.in_size, self.padding)
        for i in index:
            gx[i] += share
        return crop(gx, self.in_size, self.padding)

    def backward(self, ggx):
        return AvgPool2d(self.kernel, self.stride, self.padding)(ggx)


# ---- argument checks ----
def _geometry(op, x, kernel_size, stride, padding):
    """(kernel, stride, padding) as pairs; ValueError for what PyTorch rejects."""
    k = pair(kernel_size, "kernel_size", op)
    s = k if stride is None or stride == () else pair(stride, "stride", op)
    p = pair(padding, "padding", op)
    shape = tuple(x.shape)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {shape}")
    if x.dtype.kind != "f":
        raise ValueError(f"{op}: expected a floating point input, got {x.dtype} of shape {shape}")
    if min(k) <= 0 or min(s) <= 0:
        raise ValueError(f"{op}: kernel_size {k} and stride {s} must be positive (input of "
                         f"shape {shape})")
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be non-negative and at most half of "
                         f"kernel_size {k} (input of shape {shape})")
    padded = tuple(shape[2 + a] + 2 * p[a] for a in range(2))
    if padded[0] < k[0] or padded[1] < k[1]:
        raise ValueError(f"{op}: kernel_size {k} is larger than the padded input size {padded} "
                         f"(input of shape {shape})")
    return k, s, p


# ---- public functions ----
def max_pool2d(input, kernel_size, stride=None, padding=0):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (no dilation, no ceil_mode).

    input (N, C, H, W); kernel_size, stride (default: kernel_size), padding: an int or an
    (H, W) pair, padding at most half the kernel. Output (N, C, Hout, Wout),
    Hout = ⌊(H + 2·padding - kH) / stride⌋ + 1. The math: ``MaxPool2d``.
    """
    return MaxPool2d(*_geometry("max_pool2d", input, kernel_size, stride, padding))(input)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d`` with its defaults
    (count_include_pad=True, no ceil_mode). Arguments as ``max_pool2d``; the math: ``AvgPool2d``.
    """
    return AvgPool2d(*_geometry("avg_pool2d", input, kernel_size, stride, padding))(input)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to ``output_size`` (an int or an (H, W) pair; None keeps that side).

    Only sizes that divide the input's are supported: then it is avg_pool2d with
    kernel = stride = input size / output size (output_size 1 is the global average).
    """
    op = "adaptive_avg_pool2d"
    if input.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(input.shape)}")
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) == 2:
        size = tuple(input.shape[2 + a] if size[a] is None else size[a] for a in range(2))
    if len(size) != 2 or min(size) <= 0 or any(input.shape[2 + a] % size[a] for a in range(2)):
        raise ValueError(f"{op}: output_size {output_size} must divide the input size "
                         f"{tuple(input.shape[2:])} (input of shape {tuple(input.shape)})")
    kernel = tuple(input.shape[2 + a] // size[a] for a in range(2))
    return avg_pool2d(input, kernel, kernel)
