"""The conv's pixel movers: ``im2col``, ``col2im``, ``to_batch_last`` and ``from_batch_last``,
in NumPy and as our CUDA kernels (kernels/conv.cu).

They move pixels between the images, (N, C, H, W), and the one layout that every product
of ``minigan.ops.conv`` uses for the columns of an image:

    cols (C, kH, kW, Hout, Wout, N)  viewed as  (G, C/G·kH·kW, Hout·Wout·N)

channels lead, so a grouped conv is one batched matmul over the G groups, and the batch
goes last, so every NumPy copy or add that moves pixels runs over N contiguous values
(with N before Hout, Wout it would run along rows of Wout, often under 10 long, and
NumPy's cost per row would dominate). ``NUMPY_MOVERS`` and ``CUDA_MOVERS`` hold the four
of each; a conv's ``forward`` takes one of them as ``movers``.

The two differ in one thing. The CUDA movers hand back dense (N, C, H, W) arrays, as our
kernels read only those. The NumPy ``from_batch_last`` and ``col2im`` hand back a view:
(N, C, H, W) in shape, with the memory of a dense (C, H, W, N) array. A transpose copy in
NumPy costs as much as a conv's im2col, and this layout is what the next conv wants anyway
(``to_batch_last`` of such a view is the view itself), and what BatchNorm reads fastest
(each channel one run of memory).

Each mover is timed as "mover" work while a ``minigan.autograd.profile`` is open.
"""
from collections import namedtuple

import numpy as np

from .. import cuda, memory, threads
from ..autograd import profiler
from ..cuda import arrays as cuda_arrays


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


@profiler.timed_as("mover")
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


@profiler.timed_as("mover")
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


@profiler.timed_as("mover")
def to_batch_last(a):
    """(N, C, H, W) -> (C, H, W, N), dense: the layout of the columns of cols. A view if
    a's memory is already in that order (as ``from_batch_last`` leaves it), else a copy."""
    n, c, h, w = a.shape
    if a.transpose(1, 2, 3, 0).flags.c_contiguous:
        return a.transpose(1, 2, 3, 0)
    out = memory.empty((c, h, w, n), a.dtype)
    threads.spread(lambda c0, c1: _to_batch_last(a[:, c0:c1], out[c0:c1]), c, a.size)
    return out


@profiler.timed_as("mover")
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
# NOTE: the movers tile through shared memory: one block per TILE x TILE tile (cuda.tiles)

@profiler.timed_as("mover")
def im2col_cuda(x, kernel, stride, padding, dilation, out_size):
    n, c, h, w = x.shape
    cols = cuda.empty((c, *kernel, *out_size, n), x.dtype)
    # one block per tile of 32 output pixels × 32 images, for each (c, u, v)
    cuda.launch("conv", "im2col", x.dtype, cuda.tiles(c, *kernel, out_size[0] * out_size[1], n),
                x, cols, *map(np.int64, (n, c, h, w)),
                *map(np.int32, (*kernel, *stride, *padding, *dilation)),
                *map(np.int64, out_size))
    return cols


@profiler.timed_as("mover")
def col2im_cuda(cols, img_size, stride, padding, dilation, bias=None):
    c, kh, kw, ih, iw, n = cols.shape
    img = cuda.empty((n, c, *img_size), cols.dtype)
    # one block per tile of 32 pixels × 32 images, for each channel
    cuda.launch("conv", "col2im", cols.dtype, cuda.tiles(c, img_size[0] * img_size[1], n),
                cols, cuda.pointer(bias), img, *map(np.int64, (n, c, *img_size)),
                *map(np.int32, (kh, kw, *stride, *padding, *dilation)),
                *map(np.int64, (ih, iw)))
    return img


@profiler.timed_as("mover")
def to_batch_last_cuda(a):
    n, c, h, w = a.shape
    return cuda_arrays.transpose(a, n).reshape(c, h, w, n)          # (N, C·H·W) -> (C·H·W, N)


@profiler.timed_as("mover")
def from_batch_last_cuda(y, bias=None):
    c, h, w, n = y.shape
    # (C·H·W, N) -> (N, C·H·W), + bias[c] at each of c's H·W pixels
    return cuda_arrays.transpose(y, c * h * w, bias, h * w).reshape(n, c, h, w)


# a forward's ``movers``: the four functions that move its pixels, NumPy's or our kernels
Movers = namedtuple("Movers", "im2col col2im to_batch_last from_batch_last")
NUMPY_MOVERS = Movers(im2col, col2im, to_batch_last, from_batch_last)
CUDA_MOVERS = Movers(im2col_cuda, col2im_cuda, to_batch_last_cuda, from_batch_last_cuda)
