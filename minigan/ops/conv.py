"""2-D convolution and its transpose, as im2col and one matrix product.

conv2d slides a (C_in/groups, kH, kW) filter over the zero-padded input;
conv_transpose2d is its adjoint, ⟨conv_transpose2d(x, W), z⟩ = ⟨x, conv2d(z, W)⟩:
each input pixel spreads its value over the filter's footprint. So each op's
input gradient is the other op, and both share one weight-gradient node,
``Conv2dGradW``, whose own backward is again a conv and a transposed conv.
Derivatives of any order need nothing else.

Every product here is one batched matmul over the G groups, on the columns of an
image in the layout of ``minigan.ops.movers``:

    cols (C, kH, kW, Hout, Wout, N)  viewed as  (G, C/G·kH·kW, Hout·Wout·N)

Each ``forward`` takes its array work as arguments: ``movers``, the four functions
that move pixels (``NUMPY_MOVERS`` or ``CUDA_MOVERS``, see ``minigan.ops.movers``),
and ``matmul``, the product of each group (``matmul_groups``: the NumPy namespace's
``product``, split across the cores; on the GPU the CUDA namespace's ``product``, our GEMM
kernel, one launch for all the groups, a transposed operand by a flag). ``forward_cuda``
runs the same ``forward`` with the CUDA ones. Each product is timed as "product" work where
it lives, in the namespace.

Each node gets what it needs through its constructor or its inputs; no node reads
another's attributes.
"""
from .. import arrays as numpy_arrays
from ..autograd.function import Function
from ..cuda import arrays as cuda_arrays
from ._args import kernel_dtype, pair
from .movers import CUDA_MOVERS, NUMPY_MOVERS
from .reduce import sum


def conv_outsize(size, k, s, p, d):
    """Output length of a conv: ⌊(size + 2p - d(k - 1) - 1) / s⌋ + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def deconv_outsize(size, k, s, p, d, output_padding):
    """Output length of a transposed conv: (size - 1)s - 2p + d(k - 1) + output_padding + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


# ---- the product of each group, (G, M, K) @ (G, K, N) -> (G, M, N) ----
def matmul_groups(a, b):
    """NumPy: one group's product (the usual case) split by rows across the CPU cores; the
    groups of a grouped conv, one call."""
    if a.shape[0] == 1:
        return numpy_arrays.product(a[0], b[0])[None]
    return numpy_arrays.product(a, b)


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

    def __init__(self, stride, padding, dilation, groups, save_cols=False):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        # NOTE: save_cols keeps cols (4x x's size for a 4x4 stride-2 conv) until backward and
        # hands them to Conv2dGradW; without it gW makes them again from x. conv2d saves
        # them: measured on 2 Xeon cores, a dcgan28 step 4-9% faster for 29 MB more peak
        # memory (206 -> 235 MB); ConvTranspose2d's inner conv, in a backward, does not
        self.save_cols = save_cols
        self.cols = None

    def forward(self, x, W, b=None, movers=NUMPY_MOVERS, matmul=matmul_groups):
        n, _, h, w = x.shape
        c_out, _, kh, kw = W.shape
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        out_size = (conv_outsize(h, kh, s[0], p[0], d[0]), conv_outsize(w, kw, s[1], p[1], d[1]))
        # (C, kH, kW, Hout, Wout, N) -> (G, C/G·kH·kW, Hout·Wout·N)
        cols = movers.im2col(x, (kh, kw), s, p, d, out_size)
        cols = cols.reshape(g, -1, out_size[0] * out_size[1] * n)
        if self.save_cols:
            self.cols = cols   # saved for backward: gW's operand
        # (C_out, C/G, kH, kW) -> (G, C_out/G, C/G·kH·kW)
        y = matmul(W.reshape(g, c_out // g, -1), cols)
        # (G, C_out/G, Hout·Wout·N) -> (C_out, Hout, Wout, N) -> (N, C_out, Hout, Wout), + b
        return movers.from_batch_last(y.reshape(c_out, *out_size, n), b)

    def forward_cuda(self, x, W, b=None):
        return self.forward(x, W, b, CUDA_MOVERS, cuda_arrays.product)   # on our kernels

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
            gW = Conv2dGradW(s, p, d, g, kernel, self.cols)(x, gy)   # cols None: made again
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

    def forward(self, x, W, b=None, movers=NUMPY_MOVERS, matmul=matmul_groups):
        n, c, h, w = x.shape
        _, c_out_g, kh, kw = W.shape
        s, p, d, g, op = self.stride, self.padding, self.dilation, self.groups, self.output_padding
        out_size = (deconv_outsize(h, kh, s[0], p[0], d[0], op[0]),
                    deconv_outsize(w, kw, s[1], p[1], d[1], op[1]))
        # (C, C_out/G, kH, kW) -> (G, C/G, C_out/G·kH·kW), then Wᵀ per group
        Wt = W.reshape(g, c // g, -1).transpose(0, 2, 1)
        # (N, C, H, W) -> (C, H, W, N) -> (G, C/G, H·W·N)
        xg = movers.to_batch_last(x).reshape(g, c // g, h * w * n)
        cols = matmul(Wt, xg)   # (G, C_out/G·kH·kW, H·W·N)
        # (G, C_out/G·kH·kW, H·W·N) -> (C_out, kH, kW, H, W, N)
        cols = cols.reshape(g * c_out_g, kh, kw, h, w, n)
        return movers.col2im(cols, out_size, s, p, d, b)

    def forward_cuda(self, x, W, b=None):
        return self.forward(x, W, b, CUDA_MOVERS, cuda_arrays.product)   # on our kernels

    def backward(self, gy):
        x, W = self.inputs[:2]
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        gx = gW = gb = None
        # ---- gx ----
        if self.needs_input_grad[0]:
            gx = _crop(Conv2d(s, p, d, g)(gy, W), x.shape[2:])
        # ---- gW ----
        if self.needs_input_grad[1]:
            gW = Conv2dGradW(s, p, d, g, W.shape[2:])(gy, x)   # im2col(gy) again
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
        # im2col(x) (G, C/G·kH·kW, Hout·Wout·N) if the forward conv saved it (save_cols): held
        # as long as this node is (under create_graph, until its own backward)
        self.cols = cols

    def forward(self, x, gy, movers=NUMPY_MOVERS, matmul=matmul_groups):
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
        # (N, C_out, Hout, Wout) -> (C_out, Hout, Wout, N) -> (G, C_out/G, Hout·Wout·N)
        gyg = movers.to_batch_last(gy).reshape(g, c_out // g, -1)
        gW = matmul(gyg, cols.transpose(0, 2, 1))   # (G, C_out/G, C/G·kH·kW)
        # (G, C_out/G, C/G·kH·kW) -> (C_out, C/G, kH, kW)
        return gW.reshape(c_out, c // g, *self.kernel)

    def forward_cuda(self, x, gy):
        return self.forward(x, gy, CUDA_MOVERS, cuda_arrays.product)

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
    kernel_dtype(op, input=x, weight=W, bias=b)


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
    fn = Conv2d(s, p, d, groups, save_cols=True)   # NOTE: time over memory (Conv2d.__init__)
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
