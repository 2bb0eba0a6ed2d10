"""Normalization: batch norm (fused, with kernels on the GPU) and layer norm.

Both normalize x over some axes R (batch norm: every axis but the channels; layer norm:
each sample's last k axes), then scale and shift by γ and β:
    μ = mean_R x,   σ² = mean_R (x - μ)²,   s = 1 / √(σ² + eps),   x̂ = (x - μ) s,   y = γ x̂ + β
Their gradient, with g = γ gy and P v = v - mean_R v - x̂ · mean_R(v x̂) (a projection at eps = 0):
    gx = s · P g,   gγ = Σ gy x̂,   gβ = Σ gy          (Σ over the axes γ is broadcast along)
The gradient is an op of its own (``BatchNormGrad``, ``LayerNormGrad``), differentiable
like any other: its backward, ``_double_backward``, is the second derivative.
"""
import numpy as np

from .. import cuda, memory, threads
from ..autograd.function import Function
from ..tensor import Tensor, ones, zeros
from ._args import kernel_dtype
from .reduce import mean, sum
from .shape import broadcast_to


def _batch_layout(x):
    """Batch norm's axes R (all but the channel axis 1) and γ's broadcast shape (1, C, 1, ...)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return axes, shape


def _spatial(x):
    """S: the number of values per (sample, channel); x is viewed as (N, C, S)."""
    return x.size // (x.shape[0] * x.shape[1])


def _channels_lead(x):
    """Whether x (N, C, ...) has its channels first in memory, (C, ..., N) dense, as the
    NumPy conv leaves its outputs (``minigan.ops.conv``)."""
    return x.ndim > 2 and not x.flags.c_contiguous and \
        x.transpose(1, *range(2, x.ndim), 0).flags.c_contiguous


def _by_channel(x, lead):
    """x (N, C, ...) viewed as (A, C, B), a channel's values along A and B, and a function
    that gives an (A, C, B) array x's shape and memory order back.

    lead=False: (N, C, S), a view of a C-ordered x. lead=True: (1, C, S·N), a view of an x
    whose channels lead in memory (a copy in that order otherwise): each channel is one
    run of memory, so every pass over it is one long loop.
    """
    n, c = x.shape[:2]
    if not lead:
        return x.reshape(n, c, -1), lambda a: a.reshape(x.shape)
    order = (1, *range(2, x.ndim), 0)   # (N, C, ...) -> (C, ..., N)
    xt = np.ascontiguousarray(x.transpose(order))
    return xt.reshape(1, c, -1), lambda a: a.reshape(xt.shape).transpose(np.argsort(order))


def _double_backward(op, x, gamma, gy, ggx, gggamma, ggbeta, axes):
    """The backward of a normalization's gradient (gx, gγ, gβ) = G(x, γ, gy), in Tensor ops.

    γ, gγ and gβ come broadcastable against x. With the notation of the module docstring,
    g = γ gy, and mean over R:
        g(gy) = γ s P ggx + x̂ ggγ + ggβ                 (G is linear in gy, P symmetric)
        g(γ)  = Σ gy · s P ggx                           (summed by the caller to γ's shape)
        g(x)  = s P(ggγ gy) - s² [x̂ mean(ggx · P g) + mean(g x̂) P ggx + mean(ggx x̂) P g]
    The last line: x̂ moves with x by ∂x̂/∂x = s P, and s by ∂s/∂x = -s² x̂ / m.
    Returns (g(x), g(γ) before the sum, g(gy)); None where not needed or no gradient came.
    """
    # saved nothing: x̂ and s are rebuilt from x in Tensor ops, so that this closed form is
    # itself recorded under create_graph (a third derivative goes through it)
    centered = x - mean(x, axes, keepdim=True)
    s = (mean(centered * centered, axes, keepdim=True) + op.eps) ** -0.5
    x_hat = centered * s

    def project(v):
        return v - mean(v, axes, keepdim=True) - x_hat * mean(v * x_hat, axes, keepdim=True)

    needs_x, needs_gamma, needs_gy = op.needs_input_grad
    proj_ggx = None if ggx is None else project(ggx)
    p_ggx = None if ggx is None else s * proj_ggx
    # ---- g(gy) ----
    g_gy = None
    if needs_gy:
        terms = [gamma * p_ggx if ggx is not None else None,
                 x_hat * gggamma if gggamma is not None else None, ggbeta]
        g_gy = _total(terms)
        if g_gy is not None and g_gy.shape != gy.shape:   # ggβ alone has β's shape
            g_gy = broadcast_to(g_gy, gy.shape)
    # ---- g(γ) ----
    g_gamma = gy * p_ggx if needs_gamma and ggx is not None else None
    # ---- g(x) ----
    g_x = None
    if needs_x:
        g = gamma * gy
        terms = [s * project(gggamma * gy) if gggamma is not None else None]
        if ggx is not None:
            p_g = project(g)
            terms.append(-(s * s) * (x_hat * mean(ggx * p_g, axes, keepdim=True)
                                     + mean(g * x_hat, axes, keepdim=True) * proj_ggx
                                     + mean(ggx * x_hat, axes, keepdim=True) * p_g))
        g_x = _total(terms)
    return g_x, g_gamma, g_gy


def _total(terms):
    """The sum of the terms that are not None (None if all are)."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


# ---- batch norm ----

class BatchNorm(Function):
    """Training-mode batch normalization: statistics over every axis but the channels (axis 1).

    The math: the module docstring, with m = N·H·W values per channel. The running
    statistics, when given, are updated in place:
        running_mean ← (1 - momentum) running_mean + momentum μ
        running_var  ← (1 - momentum) running_var  + momentum σ² m / (m - 1)   (unbiased)
    """

    lead = False   # the forward's x had its channels first in memory (NumPy only)

    def __init__(self, eps, momentum, running_mean, running_var):
        self.eps, self.momentum = eps, momentum
        # the module's running statistics (arrays or None), which forward updates in place;
        # backward never reads them. A pair, not arrays of the node's own: the graph
        # (``saved_arrays``) lists only what backward saved
        self.running = (running_mean, running_var)

    def forward(self, x, gamma, beta):
        c, m = x.shape[1], x.size // x.shape[1]
        self.lead = _channels_lead(x)
        xs, shaped = _by_channel(x, self.lead)            # (N, C, ...) -> (A, C, B)
        mu, var = np.empty(c, x.dtype), np.empty(c, x.dtype)
        x_hat, y = memory.empty(xs.shape, x.dtype), memory.empty(xs.shape, x.dtype)

        def normalize(c0, c1):
            # NOTE: a block of channels at a time, split across the cores: every pass
            # below finds the block in cache
            xb, hb = xs[:, c0:c1], x_hat[:, c0:c1]
            mu[c0:c1] = xb.sum(axis=(0, 2)) / m
            np.subtract(xb, mu[c0:c1, None], out=hb)
            var[c0:c1] = np.einsum("ncs,ncs->c", hb, hb) / m   # two passes: no cancellation
            hb *= 1 / np.sqrt(var[c0:c1, None] + self.eps)
            yb = y[:, c0:c1]
            np.add(np.multiply(gamma[c0:c1, None], hb, out=yb), beta[c0:c1, None], out=yb)
        threads.split(normalize, c, x.itemsize * m)
        # saved for backward: x̂ and s = 1/√(σ² + eps) are all it needs besides γ
        self.inv_std = 1 / np.sqrt(var + self.eps)
        self.x_hat = shaped(x_hat)
        running_mean, running_var = self.running
        if running_mean is not None:
            running_mean *= 1 - self.momentum
            running_mean += self.momentum * mu
        if running_var is not None:
            running_var *= 1 - self.momentum
            running_var += self.momentum * var * (m / (m - 1))
        return shaped(y)

    def forward_cuda(self, x, gamma, beta):
        n, c, s = x.shape[0], x.shape[1], _spatial(x)
        mu, var, self.inv_std = (cuda.empty(c, x.dtype) for _ in range(3))
        parts = cuda.channel_parts(c, n * s)
        partial = cuda.empty(2 * c * parts, x.dtype)
        # stage 1, one block per (channel, part): the part's Σ x and Σ (x - its mean)²
        cuda.launch("batch_norm", "batch_norm_forward_partial_stats", x.dtype,
                    cuda.blocks_for(c * parts, threads=1), x, partial,
                    *map(np.int64, (n, c, s, parts)))
        # stage 2, one thread per channel: μ, σ², 1/√(σ² + eps) and the running statistics
        cuda.launch("batch_norm", "batch_norm_forward_stats", x.dtype, cuda.blocks_for(c),
                    partial, mu, var, self.inv_std, *map(cuda.pointer, self.running),
                    cuda.scalar(self.momentum, x.dtype), cuda.scalar(self.eps, x.dtype),
                    *map(np.int64, (n * s, c, parts)))
        self.x_hat, y = cuda.empty_like(x), cuda.empty_like(x)
        cuda.launch("batch_norm", "batch_norm_forward_normalize", x.dtype,
                    cuda.blocks_for(x.size), x, mu, self.inv_std, gamma, beta, self.x_hat, y,
                    np.int64(c), np.int64(s), np.int64(x.size))
        return y

    def backward(self, gy):
        x, gamma, _ = self.inputs
        return BatchNormGrad(self.eps, self.x_hat, self.inv_std, self.lead)(x, gamma, gy)


class BatchNormGrad(Function):
    """(gx, gγ, gβ) of ``BatchNorm`` as an op of (x, γ, gy), with m values per channel:

        gγ = Σ gy x̂,   gβ = Σ gy,   gx = γ s (gy - (x̂ gγ + gβ) / m)
    (the module's s P(γ gy), written out). The forward reads the x̂ and s that
    ``BatchNorm`` saved for this x; x is an input only so that the backward,
    ``_double_backward``, can differentiate through it.
    """

    def __init__(self, eps, x_hat, inv_std, lead=False):
        self.eps, self.x_hat, self.inv_std = eps, x_hat, inv_std
        self.lead = lead   # x̂'s memory has its channels first (``_channels_lead``)

    def forward(self, x, gamma, gy):
        c, m = gy.shape[1], gy.size // gy.shape[1]
        # (N, C, ...) -> (A, C, B), both in x̂'s memory order
        (gy_all, shaped), (x_hat_all, _) = (_by_channel(a, self.lead) for a in (gy, self.x_hat))
        ggamma, gbeta = np.empty(c, gy.dtype), np.empty(c, gy.dtype)
        gx = memory.empty(gy_all.shape, gy.dtype)
        inv_std = self.inv_std

        def grads(c0, c1):
            # NOTE: a block of channels at a time, split across the cores, as the forward
            gy, x_hat = gy_all[:, c0:c1], x_hat_all[:, c0:c1]   # this block: (A, c1 - c0, B)
            ch, c = slice(c0, c1), (slice(c0, c1), None)        # c: per channel, (c1 - c0, 1)
            # ---- gγ, gβ ----
            ggamma[ch] = np.einsum("ncs,ncs->c", gy, x_hat)
            gbeta[ch] = gy.sum(axis=(0, 2))
            # ---- gx ----
            gx[:, ch] = gamma[c] * inv_std[c] * (gy - (x_hat * ggamma[c] + gbeta[c]) / m)
        threads.split(grads, c, gy.itemsize * m)
        return shaped(gx), ggamma, gbeta

    def forward_cuda(self, x, gamma, gy):
        n, c, s = gy.shape[0], gy.shape[1], _spatial(gy)
        ggamma, gbeta = cuda.empty(c, gy.dtype), cuda.empty(c, gy.dtype)
        parts = cuda.channel_parts(c, n * s)
        partial = cuda.empty(2 * c * parts, gy.dtype)
        # stage 1, one block per (channel, part): the part's Σ gy x̂ and Σ gy
        cuda.launch("batch_norm", "batch_norm_backward_partial_sums", gy.dtype,
                    cuda.blocks_for(c * parts, threads=1), gy, self.x_hat, partial,
                    *map(np.int64, (n, c, s, parts)))
        # stage 2, one thread per channel: gγ = Σ gy x̂, gβ = Σ gy, the parts in order
        cuda.launch("batch_norm", "batch_norm_backward_reduce", gy.dtype, cuda.blocks_for(c),
                    partial, ggamma, gbeta, np.int64(c), np.int64(parts))
        gx = cuda.empty_like(gy)
        cuda.launch("batch_norm", "batch_norm_backward_x", gy.dtype, cuda.blocks_for(gy.size),
                    gy, self.x_hat, gamma, self.inv_std, ggamma, gbeta, gx,
                    np.int64(c), np.int64(s), np.int64(gy.size))
        return gx, ggamma, gbeta

    def backward(self, ggx, gggamma, ggbeta):
        x, gamma, gy = self.inputs
        axes, shape = _batch_layout(x)
        per_channel = [None if t is None else t.reshape(*shape) for t in (gamma, gggamma, ggbeta)]
        g_x, g_gamma, g_gy = _double_backward(self, x, per_channel[0], gy, ggx, *per_channel[1:],
                                              axes)
        return g_x, None if g_gamma is None else sum(g_gamma, axes), g_gy


class BatchNormInference(Function):
    """Eval-mode batch normalization with fixed (running) statistics μ_r, σ²_r:

        x̂ = (x - μ_r) / √(σ²_r + eps),   y = γ x̂ + β
        gx = gy γ / √(σ²_r + eps),   gγ = Σ gy x̂,   gβ = Σ gy
    Linear in x, so its backward in Tensor ops is already differentiable.
    """

    def __init__(self, eps, running_mean, running_var):
        self.running_mean = running_mean
        self.inv_std = 1 / Function.xp(running_var).sqrt(running_var + eps)

    def forward(self, x, gamma, beta):
        _, shape = _batch_layout(x)
        x_hat = (x - self.running_mean.reshape(shape)) * self.inv_std.reshape(shape)
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)

    def forward_cuda(self, x, gamma, beta):
        y = cuda.empty_like(x)
        cuda.launch("batch_norm", "batch_norm_forward_normalize", x.dtype,
                    cuda.blocks_for(x.size), x, self.running_mean, self.inv_std, gamma, beta,
                    cuda.NULL, y, np.int64(x.shape[1]), np.int64(_spatial(x)), np.int64(x.size))
        return y

    def backward(self, gy):
        x, gamma, _ = self.inputs
        axes, shape = _batch_layout(x)
        inv_std = Tensor(self.inv_std.reshape(shape))
        x_hat = (x - Tensor(self.running_mean.reshape(shape))) * inv_std
        return gy * gamma.reshape(*shape) * inv_std, sum(gy * x_hat, axes), sum(gy, axes)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize ``(N, C)`` or ``(N, C, H, W)`` input per channel, as ``torch.nn.functional.batch_norm``.

    training: batch statistics, and the running ones (when given) are updated in
    place with the unbiased variance; eval: the running statistics. The math:
    ``BatchNorm`` and ``BatchNormInference``.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)} but the input "
                             f"{tuple(input.shape)} has {channels} channels")
    weight, bias = _affine(input, (channels,), weight, bias)
    kernel_dtype("batch_norm", input=input, weight=weight, bias=bias,
                 running_mean=running_mean, running_var=running_var)

    if training:
        if input.numel() // channels <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(input.shape)}")
        stats = [None if t is None else t.data for t in (running_mean, running_var)]
        return BatchNorm(eps, momentum, *stats)(input, weight, bias)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: eval mode needs running_mean and running_var")
    return BatchNormInference(eps, running_mean.data, running_var.data)(input, weight, bias)


# ---- layer norm ----

class LayerNorm(Function):
    """Layer normalization (Ba et al., 2016): each sample over its last k axes.

    The math: the module docstring, with x viewed as (B, M), M values per row, and γ, β
    of the normalized shape; gγ and gβ sum over the rows. Its gx is batch norm's with the
    roles of the axes swapped: there the statistics are per channel, here per sample.
    """

    def __init__(self, k, eps):
        self.k, self.eps = k, eps

    def forward(self, x, gamma, beta):
        xp = self.xp(x)
        rows = x.reshape(-1, gamma.size)                 # (..., *normalized) -> (B, M)
        mu = rows.mean(axis=1, keepdims=True)
        var = rows.var(axis=1, keepdims=True)            # two passes: no cancellation
        # saved for backward: x̂ and s = 1/√(σ² + eps) are all it needs besides γ
        self.inv_std = 1 / xp.sqrt(var + self.eps)        # (B, 1)
        self.x_hat = ((rows - mu) * self.inv_std).reshape(x.shape)
        return gamma * self.x_hat + beta

    def backward(self, gy):
        x, gamma, _ = self.inputs
        return LayerNormGrad(self.k, self.eps, self.x_hat, self.inv_std)(x, gamma, gy)


class LayerNormGrad(Function):
    """(gx, gγ, gβ) of ``LayerNorm`` as an op of (x, γ, gy), means along each row:

        gγ = Σ_rows gy x̂,   gβ = Σ_rows gy,   gx = s (g - mean(g) - x̂ · mean(g x̂)),   g = gy γ
    The forward reads the x̂ and s that ``LayerNorm`` saved for this x; the backward is
    ``_double_backward``.
    """

    def __init__(self, k, eps, x_hat, inv_std):
        self.k, self.eps, self.x_hat, self.inv_std = k, eps, x_hat, inv_std

    def forward(self, x, gamma, gy):
        m = gamma.size
        # ---- gγ, gβ ----
        ggamma = (gy * self.x_hat).reshape(-1, m).sum(axis=0).reshape(gamma.shape)
        gbeta = gy.reshape(-1, m).sum(axis=0).reshape(gamma.shape)
        # ---- gx ----
        g = (gy * gamma).reshape(-1, m)                  # (..., *normalized) -> (B, M)
        x_hat = self.x_hat.reshape(-1, m)
        gx = (g - g.mean(axis=1, keepdims=True)
              - x_hat * (g * x_hat).mean(axis=1, keepdims=True)) * self.inv_std
        return gx.reshape(gy.shape), ggamma, gbeta

    def backward(self, ggx, gggamma, ggbeta):
        x, gamma, gy = self.inputs
        axes = tuple(range(x.ndim - self.k, x.ndim))     # the normalized axes: one row each
        rows = tuple(range(x.ndim - self.k))             # the others
        g_x, g_gamma, g_gy = _double_backward(self, x, gamma, gy, ggx, gggamma, ggbeta, axes)
        return g_x, None if g_gamma is None else sum(g_gamma, rows), g_gy


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` axes, as
    ``torch.nn.functional.layer_norm``; weight (γ) and bias (β), when given, have the
    normalized shape. The math: ``LayerNorm``.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the last "
                         f"{k} dimensions of the input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected the "
                             f"normalized_shape {shape}")
    weight, bias = _affine(input, shape, weight, bias)
    return LayerNorm(k, eps)(input, weight, bias)


def _affine(input, shape, weight, bias):
    """γ and β as given, or ones and zeros of ``shape`` (no scale, no shift)."""
    if weight is None:
        weight = ones(*shape, dtype=input.dtype, device=input.device)
    if bias is None:
        bias = zeros(*shape, dtype=input.dtype, device=input.device)
    return weight, bias
