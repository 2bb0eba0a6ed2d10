"""2-D convolution and its transpose, as im2col and one matrix product.

conv2d slides a (C_in/groups, kH, kW) filter over the zero-padded input;
conv_transpose2d is its adjoint, ⟨conv_transpose2d(x, W), z⟩ = ⟨x, conv2d(z, W)⟩:
each input pixel spreads its value over the filter's footprint. So each op's
input gradient is the other op, and both share one weight-gradient node,
``Conv2dGradW``, whose own backward is again a conv and a transposed conv.
Derivatives of any order need nothing else.

Every product here uses one layout for the columns of the image:

    cols (C, kH, kW, Hout, Wout, N)  viewed as  (G, C/G·kH·kW, Hout·Wout·N)

channels lead, so a grouped conv is one batched matmul over the G groups, and
the batch goes last, so every NumPy copy or add that moves pixels runs over N
contiguous values (with N before Hout, Wout it would run along rows of Wout,
often under 10 long, and NumPy's cost per row would dominate). Four helpers
move pixels: ``im2col``, ``col2im``, ``to_batch_last`` and ``from_batch_last``.
``Movers`` bundles the NumPy four and the CUDA four (kernels/conv.cu), with the
product of each group (on the CPU split across the cores, ``minigan.threads``);
each ``forward`` takes them as ``movers``, and ``forward_cuda`` runs the same
``forward`` with ``CUDA_MOVERS``.

The two differ in one thing. The CUDA movers hand back dense (N, C, H, W) arrays,
as our kernels read only those. The NumPy ``from_batch_last`` and ``col2im`` hand
back a view: (N, C, H, W) in shape, with the memory of a dense (C, H, W, N) array.
A transpose copy in NumPy costs as much as a conv's im2col, and this layout is
what the next conv wants anyway (``to_batch_last`` of such a view is the view
itself), and what BatchNorm reads fastest (each channel one run of memory).
"""
from collections import namedtuple

import numpy as np

from .. import cuda, memory, threads
from ..autograd.function import Function
from ._args import pair
from .reduce import sum


def conv_outsize(size, k, s, p, d):
    """Output length of a conv: ⌊(size + 2p - d(k - 1) - 1) / s⌋ + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def deconv_outsize(size, k, s, p, d, output_padding):
    """Output length of a transposed conv: (size - 1)s - 2p + d(k - 1) + output_padding + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def _to_batch_last(x, out):
    """out[...] = x, with x (N, c, H, W) and out (c, H, W, N) (a view, say a canvas's inside)."""
    xt = x.transpose(1, 2, 3, 0)   # (N, c, H, W) -> (c, H, W, N), a view
    if xt.strides[3] == xt.itemsize:   # the batch is already last in memory: a plain copy
        out[...] = xt
        return
    # NOTE: 16 images at a time keeps the rows being read in cache; one big copy is ~3x slower
    for n0 in range(0, x.shape[0], 16):
        out[..., n0:n0 + 16] = xt[..., n0:n0 + 16]


def _one_window(x_size, kernel, padding, dilation, out_size):
    """True when the kernel covers the unpadded image once: cols are the image itself."""
    return (tuple(out_size) == (1, 1) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1) and tuple(kernel) == tuple(x_size))


def im2col(x, kernel, stride, padding, dilation, out_size):
    """(N, C, H, W) -> cols (C, kH, kW, Hout, Wout, N), dense (new, but for a kernel that
    covers the image once: then a view of x if x's batch is already last in memory).

    cols[c, u, v, i, j, n] = x̃[n, c, s·i + d·u, s·j + d·v],  x̃ = x zero-padded by p.
    """
    (kh, kw), (sy, sx), (ph, pw), (dy, dx), (oh, ow) = kernel, stride, padding, dilation, out_size
    n, c, h, w = x.shape
    if _one_window((h, w), kernel, padding, dilation, out_size):   # DCGAN's last conv
        return to_batch_last(x).reshape(c, kh, kw, 1, 1, n)
    # (N, C, H, W) -> the canvas (C, H + 2p, W + 2p, N), the padding left at 0
    img = memory.zeros((c, h + 2 * ph, w + 2 * pw, n), x.dtype)
    sc, sh, sw, sn = img.strides
    # a view: each pixel shows up once under every tap that reads it
    view = np.lib.stride_tricks.as_strided(
        img, (c, kh, kw, oh, ow, n), (sc, sh * dy, sw * dx, sh * sy, sw * sx, sn))
    cols = memory.empty(view.shape, x.dtype)

    def copy(c0, c1):
        _to_batch_last(x[:, c0:c1], img[c0:c1, ph:ph + h, pw:pw + w])
        cols[c0:c1] = view[c0:c1]   # the one copy: the matmul wants it dense
    threads.spread(copy, c, cols.size)
    return cols


def col2im(cols, img_size, stride, padding, dilation, bias=None):
    """cols (C, kH, kW, Hin, Win, N) -> (N, C, H, W), the adjoint of ``im2col``; a view of
    a dense (C, H, W, N) array.

    x̃[n, c, s·i + d·u, s·j + d·v] += cols[c, u, v, i, j, n], then the padding p is cut off
    (and ``bias`` (C,), if given, added).
    """
    c, kh, kw, ih, iw, n = cols.shape
    (h, w), (sy, sx), (ph, pw), (dy, dx) = img_size, stride, padding, dilation
    if _one_window(img_size, (kh, kw), padding, dilation, (ih, iw)):   # DCGAN's first deconv
        return from_batch_last(cols.reshape(c, kh, kw, n), bias)
    # the padded canvas (C, H + 2p, W + 2p, N); every tap lands inside when output_padding ≥ 0
    img = memory.zeros((c, h + 2 * ph, w + 2 * pw, n), cols.dtype)
    out = memory.empty((c, h, w, n), cols.dtype)

    def add(c0, c1):
        # NOTE: one strided add per tap, a loop of kH·kW; no loop over pixels or batch.
        for u in range(kh):
            for v in range(kw):
                img[c0:c1, u * dy:u * dy + sy * (ih - 1) + 1:sy,
                           v * dx:v * dx + sx * (iw - 1) + 1:sx] += cols[c0:c1, u, v]
        out[c0:c1] = img[c0:c1, ph:ph + h, pw:pw + w]   # the padding cut off
    threads.spread(add, c, cols.size)
    return from_batch_last(out, bias)


def to_batch_last(a):
    """(N, C, H, W) -> (C, H, W, N), dense: the layout of the columns of cols. A view if
    a's memory is already in that order (as ``from_batch_last`` leaves it), else a copy."""
    n, c, h, w = a.shape
    if a.transpose(1, 2, 3, 0).flags.c_contiguous:
        return a.transpose(1, 2, 3, 0)
    out = memory.empty((c, h, w, n), a.dtype)
    threads.spread(lambda c0, c1: _to_batch_last(a[:, c0:c1], out[c0:c1]), c, a.size)
    return out


def from_batch_last(y, bias=None):
    """(C, H, W, N) -> (N, C, H, W), with ``bias`` (C,) added if given: a view of y (or of
    y + bias), no copy."""
    if bias is not None:
        out = memory.empty(y.shape, y.dtype)
        threads.spread(lambda c0, c1: np.add(y[c0:c1], bias[c0:c1].reshape(-1, 1, 1, 1),
                                             out=out[c0:c1]), y.shape[0], y.size)
        y = out
    return y.transpose(3, 0, 1, 2)


# ---- the same four movers, as our CUDA kernels (kernels/conv.cu) ----
# NOTE: the movers tile through shared memory (kernels/conv.cu's TILE): one block per tile
TILE = 32


def _tiles(*sizes):
    """Blocks for tiles of TILE × TILE over the last two sizes, one per tile, times the rest."""
    *rest, rows, cols = sizes
    tiles = int(np.prod(rest, dtype=np.int64)) * -(-rows // TILE) * -(-cols // TILE)
    return cuda.blocks_for(tiles, threads=1)


def im2col_cuda(x, kernel, stride, padding, dilation, out_size):
    n, c, h, w = x.shape
    cols = cuda.empty((c, *kernel, *out_size, n), x.dtype)
    # one block per tile of 32 output pixels × 32 images, for each (c, u, v)
    cuda.launch("conv", "im2col", x.dtype, _tiles(c, *kernel, out_size[0] * out_size[1], n),
                x, cols, *map(np.int64, (n, c, h, w)),
                *map(np.int32, (*kernel, *stride, *padding, *dilation)),
                *map(np.int64, out_size))
    return cols


def col2im_cuda(cols, img_size, stride, padding, dilation, bias=None):
    c, kh, kw, ih, iw, n = cols.shape
    img = cuda.empty((n, c, *img_size), cols.dtype)
    # one block per tile of 32 pixels × 32 images, for each channel
    cuda.launch("conv", "col2im", cols.dtype, _tiles(c, img_size[0] * img_size[1], n),
                cols, cuda.pointer(bias), img, *map(np.int64, (n, c, *img_size)),
                *map(np.int32, (kh, kw, *stride, *padding, *dilation)),
                *map(np.int64, (ih, iw)))
    return img


def _transpose2d_cuda(a, rows, shape, bias=None, per_bias=1):
    """a viewed as (rows, B) -> out (B, rows) shaped ``shape``, + bias[row // per_bias]."""
    out = cuda.empty(shape, a.dtype)
    cols = a.size // rows
    cuda.launch("conv", "transpose2d", a.dtype, _tiles(rows, cols),   # one block per tile
                a, cuda.pointer(bias), out, np.int64(rows), np.int64(cols), np.int64(per_bias))
    return out


def to_batch_last_cuda(a):
    n, c, h, w = a.shape
    return _transpose2d_cuda(a, n, (c, h, w, n))                    # (N, C·H·W) -> (C·H·W, N)


def from_batch_last_cuda(y, bias=None):
    c, h, w, n = y.shape
    return _transpose2d_cuda(y, c * h * w, (n, c, h, w), bias, h * w)   # (C·H·W, N) -> (N, C·H·W)


# ---- the product of each group, (G, M, K) @ (G, K, N) -> (G, M, N) ----
def matmul_groups(a, b):
    """NumPy: one group's product (the usual case) split by rows across the CPU cores; the
    groups of a grouped conv, one call."""
    return threads.matmul(a[0], b[0])[None] if a.shape[0] == 1 else threads.matmul(a, b)


def matmul_groups_cuda(a, b):
    """Our GEMM kernel, one launch for all the groups; a transposed operand goes by a flag."""
    return cuda.product(a, b)


# a forward's ``movers``: the four functions that move its pixels and the product, NumPy's
# or our kernels
Movers = namedtuple("Movers", "im2col col2im to_batch_last from_batch_last matmul")
NUMPY_MOVERS = Movers(im2col, col2im, to_batch_last, from_batch_last, matmul_groups)
CUDA_MOVERS = Movers(im2col_cuda, col2im_cuda, to_batch_last_cuda, from_batch_last_cuda,
                     matmul_groups_cuda)


def _output_padding(x_size, y_size, kernel, s, p, d):
    """The output_padding that makes conv_transpose2d map y's (H, W) back to x's."""
    return tuple(x_size[a] - deconv_outsize(y_size[a], kernel[a], s[a], p[a], d[a], 0)
                 for a in range(2))


def _crop(t, size):
    """t[:, :, :H, :W]: drop the rows and columns past ``size`` (a differentiable slice)."""
    return t if tuple(t.shape[2:]) == tuple(size) else t[:, :, :size[0], :size[1]]


class Conv2d(Function):
    """y = conv2d(x, W) + b, with x (N, C, H, W), W (C_out, C/G, kH, kW), b (C_out,).

        Hout = ⌊(H + 2p - d(kH - 1) - 1) / s⌋ + 1       (Wout alike)
        y[n, o, i, j] = b[o] + Σ_{c,u,v} W[o, c, u, v] x̃[n, gC/G + c, s·i + d·u, s·j + d·v]
    with x̃ = x zero-padded by p and g = o ÷ (C_out/G) the group of o. Per group:
        y = W @ im2col(x)     (C_out/G, C/G·kH·kW) @ (C/G·kH·kW, Hout·Wout·N)

        gx = conv_transpose2d(gy, W), output_padding chosen so that it has x's size
        gW = Conv2dGradW(x, gy) = gy @ im2col(x)ᵀ
        gb = Σ_{n,i,j} gy
    """

    def __init__(self, stride, padding, dilation, groups, keep_cols=False):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        # NOTE: cols are 4x x's size for a 4x4 stride-2 conv: not saved for backward, which
        # makes them again from x (a dcgan28 step's peak memory ~38 MB lower, for 3 im2cols);
        # kept only for a caller that asks, ConvTranspose2d.backward, which reuses them at once
        self.keep_cols = keep_cols

    def forward(self, x, W, b=None, movers=NUMPY_MOVERS):
        n, _, h, w = x.shape
        c_out, _, kh, kw = W.shape
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        out_size = (conv_outsize(h, kh, s[0], p[0], d[0]), conv_outsize(w, kw, s[1], p[1], d[1]))
        # (C, kH, kW, Hout, Wout, N) -> (G, C/G·kH·kW, Hout·Wout·N)
        cols = movers.im2col(x, (kh, kw), s, p, d, out_size)
        cols = cols.reshape(g, -1, out_size[0] * out_size[1] * n)
        self.cols = cols if self.keep_cols else None
        # (C_out, C/G, kH, kW) -> (G, C_out/G, C/G·kH·kW)
        y = movers.matmul(W.reshape(g, c_out // g, -1), cols)
        # (G, C_out/G, Hout·Wout·N) -> (C_out, Hout, Wout, N) -> (N, C_out, Hout, Wout), + b
        return movers.from_batch_last(y.reshape(c_out, *out_size, n), b)

    def forward_cuda(self, x, W, b=None):
        return self.forward(x, W, b, movers=CUDA_MOVERS)   # the same steps on our kernels

    def backward(self, gy):
        x, W = self.inputs[:2]
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        kernel = W.shape[2:]
        gx = gW = gb = None
        # ---- gx ----
        if self.needs_input_grad[0]:
            # the rows at x's end that no window reached get their gradient, 0, from output_padding
            op = _output_padding(x.shape[2:], gy.shape[2:], kernel, s, p, d)
            gx = ConvTranspose2d(s, p, d, g, op)(gy, W)
        # ---- gW ----
        if self.needs_input_grad[1]:
            gW = Conv2dGradW(s, p, d, g, kernel)(x, gy)   # makes im2col(x) again
        # ---- gb ----
        if len(self.inputs) > 2 and self.needs_input_grad[2]:
            gb = sum(gy, (0, 2, 3))
        return (gx, gW) if len(self.inputs) == 2 else (gx, gW, gb)


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, W) + b, with x (N, C, H, W), W (C, C_out/G, kH, kW), b (C_out,).

        Hout = (H - 1)s - 2p + d(kH - 1) + output_padding + 1       (Wout alike)
        ỹ[n, gC_out/G + o, s·i + d·u, s·j + d·v] += W[c, o, u, v] x[n, c, i, j]  (c in g)
        y = ỹ with the padding p cut off, + b
    the adjoint of conv2d(·, W). Per group, with col2im the adjoint of im2col:
        y = col2im(Wᵀ @ x)     (C_out/G·kH·kW, C/G) @ (C/G, H·W·N)

        gx = conv2d(gy, W), cut to x's size (output_padding ≥ stride adds windows past it)
        gW = Conv2dGradW(gy, x): the conv's weight gradient with input and output swapped
        gb = Σ_{n,i,j} gy
    """

    def __init__(self, stride, padding, dilation, groups, output_padding):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.output_padding = output_padding

    def forward(self, x, W, b=None, movers=NUMPY_MOVERS):
        n, c, h, w = x.shape
        _, c_out_g, kh, kw = W.shape
        s, p, d, g, op = self.stride, self.padding, self.dilation, self.groups, self.output_padding
        out_size = (deconv_outsize(h, kh, s[0], p[0], d[0], op[0]),
                    deconv_outsize(w, kw, s[1], p[1], d[1], op[1]))
        # (C, C_out/G, kH, kW) -> (G, C/G, C_out/G·kH·kW), then Wᵀ per group
        Wt = W.reshape(g, c // g, -1).transpose(0, 2, 1)
        # (N, C, H, W) -> (C, H, W, N) -> (G, C/G, H·W·N)
        xg = movers.to_batch_last(x).reshape(g, c // g, h * w * n)
        cols = movers.matmul(Wt, xg)   # (G, C_out/G·kH·kW, H·W·N)
        # (G, C_out/G·kH·kW, H·W·N) -> (C_out, kH, kW, H, W, N)
        cols = cols.reshape(g * c_out_g, kh, kw, h, w, n)
        return movers.col2im(cols, out_size, s, p, d, b)

    def forward_cuda(self, x, W, b=None):
        return self.forward(x, W, b, movers=CUDA_MOVERS)   # the same steps on our kernels

    def backward(self, gy):
        x, W = self.inputs[:2]
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        gx = gW = gb = None
        # ---- gx ----
        cols = None
        if self.needs_input_grad[0]:
            conv = Conv2d(s, p, d, g, keep_cols=True)
            gx = conv(gy, W)
            if gx.shape == x.shape:
                cols = conv.cols   # im2col(gy): what gW needs too
            conv.cols = None   # the node may live on in a graph (create_graph): not its cols
            gx = _crop(gx, x.shape[2:])
        # ---- gW ----
        if self.needs_input_grad[1]:
            gW = Conv2dGradW(s, p, d, g, W.shape[2:], cols)(gy, x)
        # ---- gb ----
        if len(self.inputs) > 2 and self.needs_input_grad[2]:
            gb = sum(gy, (0, 2, 3))
        return (gx, gW) if len(self.inputs) == 2 else (gx, gW, gb)


class Conv2dGradW(Function):
    """gW of y = conv2d(x, W), from x (N, C, H, W) and gy (N, C_out, Hout, Wout).

        gW[o, c, u, v] = Σ_{n,i,j} gy[n, o, i, j] x̃[n, gC/G + c, s·i + d·u, s·j + d·v]
    per group gW = gy @ im2col(x)ᵀ, windows taken only up to gy's (Hout, Wout).
    gW is bilinear in (x, gy), ⟨gW, V⟩ = ⟨gy, conv2d(x, V)⟩, so with ggW flowing in:
        gx  = conv_transpose2d(gy, ggW), sized to x
        ggy = conv2d(x, ggW), cut to gy's size
    """

    def __init__(self, stride, padding, dilation, groups, kernel, cols=None):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.kernel = tuple(kernel)
        self.cols = cols   # im2col(x), when the forward conv already made it

    def forward(self, x, gy, movers=NUMPY_MOVERS):
        n, c = x.shape[:2]
        c_out = gy.shape[1]
        g = self.groups
        out_size = gy.shape[2:]
        cols = self.cols
        if cols is None:
            # (C, kH, kW, Hout, Wout, N) -> (G, C/G·kH·kW, Hout·Wout·N)
            cols = movers.im2col(x, self.kernel, self.stride, self.padding, self.dilation,
                                 out_size)
            cols = cols.reshape(g, -1, out_size[0] * out_size[1] * n)
        self.cols = None   # not needed by backward
        # (N, C_out, Hout, Wout) -> (C_out, Hout, Wout, N) -> (G, C_out/G, Hout·Wout·N)
        gyg = movers.to_batch_last(gy).reshape(g, c_out // g, -1)
        gW = movers.matmul(gyg, cols.transpose(0, 2, 1))   # (G, C_out/G, C/G·kH·kW)
        # (G, C_out/G, C/G·kH·kW) -> (C_out, C/G, kH, kW)
        return gW.reshape(c_out, c // g, *self.kernel)

    def forward_cuda(self, x, gy):
        return self.forward(x, gy, movers=CUDA_MOVERS)

    def backward(self, ggW):
        x, gy = self.inputs
        s, p, d, g, k = self.stride, self.padding, self.dilation, self.groups, self.kernel
        gx = ggy = None
        # ---- gx ----
        if self.needs_input_grad[0]:
            op = _output_padding(x.shape[2:], gy.shape[2:], k, s, p, d)
            gx = ConvTranspose2d(s, p, d, g, op)(gy, ggW)
        # ---- ggy ----
        if self.needs_input_grad[1]:
            ggy = _crop(Conv2d(s, p, d, g)(x, ggW), gy.shape[2:])
        return gx, ggy


# ---- argument checks ----
def _check(op, x, W, b, stride, padding, dilation, groups):
    """Raise ValueError for what PyTorch rejects, naming the op and the numbers."""
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if W.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D weight, got shape {tuple(W.shape)}")
    for name, v in (("stride", stride), ("dilation", dilation)):
        if min(v) <= 0:
            raise ValueError(f"{op}: {name} must be positive, got {v}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    c = x.shape[1]
    # conv2d's weight is (C_out, C/G, kH, kW); conv_transpose2d's is (C, C_out/G, kH, kW)
    c_out, c_weight = (W.shape[0], W.shape[1] * groups) if op == "conv2d" else \
                      (W.shape[1] * groups, W.shape[0])
    for name, channels in (("in_channels", c), ("out_channels", c_out)):
        if channels % groups:
            raise ValueError(f"{op}: {name} {channels} is not divisible by groups {groups}")
    if c != c_weight:
        raise ValueError(f"{op}: weight of shape {tuple(W.shape)} with groups={groups} expects "
                         f"{c_weight} input channels, got input of shape {tuple(x.shape)} "
                         f"with {c}")
    if b is not None and tuple(b.shape) != (c_out,):
        raise ValueError(f"{op}: bias of shape {tuple(b.shape)} does not match the {c_out} "
                         f"output channels")
    cuda.kernel_dtype(op, input=x, weight=W, bias=b)


# ---- public functions ----
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    input (N, C, H, W), weight (C_out, C/groups, kH, kW), bias (C_out,) or None;
    stride, padding, dilation: an int or an (H, W) pair. Output (N, C_out, Hout, Wout),
    Hout = ⌊(H + 2·padding - dilation·(kH - 1) - 1) / stride⌋ + 1. The math: ``Conv2d``.
    """
    op = "conv2d"
    s, p, d = (pair(stride, "stride", op), pair(padding, "padding", op),
               pair(dilation, "dilation", op))
    _check(op, input, weight, bias, s, p, d, groups)
    padded = tuple(input.shape[2 + a] + 2 * p[a] for a in range(2))
    reach = tuple(d[a] * (weight.shape[2 + a] - 1) + 1 for a in range(2))
    if reach[0] > padded[0] or reach[1] > padded[1]:
        raise ValueError(f"conv2d: kernel size {tuple(weight.shape[2:])} (dilated {reach}) is "
                         f"larger than the padded input size {padded}")
    fn = Conv2d(s, p, d, groups)
    return fn(input, weight) if bias is None else fn(input, weight, bias)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    input (N, C, H, W), weight (C, C_out/groups, kH, kW), bias (C_out,) or None;
    stride, padding, output_padding, dilation: an int or an (H, W) pair. Output
    (N, C_out, Hout, Wout), Hout = (H - 1)·stride - 2·padding + dilation·(kH - 1)
    + output_padding + 1, where output_padding must be smaller than stride or dilation.
    The math: ``ConvTranspose2d``.
    """
    op = "conv_transpose2d"
    s, p, d = (pair(stride, "stride", op), pair(padding, "padding", op),
               pair(dilation, "dilation", op))
    opad = pair(output_padding, "output_padding", op)
    _check(op, input, weight, bias, s, p, d, groups)
    if min(opad) < 0 or any(opad[a] >= s[a] and opad[a] >= d[a] for a in range(2)):
        raise ValueError(f"conv_transpose2d: output_padding {opad} must be non-negative and "
                         f"smaller than either stride {s} or dilation {d}")
    out = tuple(deconv_outsize(input.shape[2 + a], weight.shape[2 + a], s[a], p[a], d[a], opad[a])
                for a in range(2))
    if min(out) <= 0:
        raise ValueError(f"conv_transpose2d: output size {out} is not positive (input "
                         f"{tuple(input.shape[2:])}, kernel {tuple(weight.shape[2:])}, "
                         f"padding {p})")
    fn = ConvTranspose2d(s, p, d, groups, opad)
    return fn(input, weight) if bias is None else fn(input, weight, bias)
