"""Batch normalization: fused ops for training and eval, one kernel pair each on the GPU."""
import numpy as np

from .. import cuda
from ..autograd import grad_mode
from ..autograd.function import Function
from .reduce import mean, sum


def _layout(x):
    """Reduction axes (all but channel axis 1) and the broadcast shape (1, C, 1, ...)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return axes, shape


def _spatial(x):
    """S: the number of values per (sample, channel); x is viewed as (N, C, S)."""
    return x.size // (x.shape[0] * x.shape[1])


class BatchNorm(Function):
    """Training-mode batch normalization over every axis but the channels (axis 1).

    With m values per channel:
        μ = Σx / m,   σ² = Σ(x - μ)² / m,   x̂ = (x - μ) / √(σ² + eps),   y = γ x̂ + β
        gγ = Σ gy x̂,   gβ = Σ gy
        gx = γ / √(σ² + eps) · (gy - (x̂ gγ + gβ) / m)
    The running statistics, when given, are updated in place:
        running_mean ← (1 - momentum) running_mean + momentum μ
        running_var  ← (1 - momentum) running_var  + momentum σ² m / (m - 1)   (unbiased)
    """

    def __init__(self, eps, momentum, running_mean, running_var):
        self.eps, self.momentum = eps, momentum
        self.running_mean, self.running_var = running_mean, running_var   # arrays or None

    def forward(self, x, gamma, beta):
        axes, shape = _layout(x)
        m = x.size // x.shape[1]
        mu = x.mean(axis=axes)
        centered = x - mu.reshape(shape)
        var = (centered * centered).mean(axis=axes)   # two passes: no cancellation
        # saved for backward: x̂ and 1/√(σ² + eps) are all it needs besides γ
        self.inv_std = 1 / self.xp(x).sqrt(var + self.eps)
        self.x_hat = centered
        self.x_hat *= self.inv_std.reshape(shape)
        if self.running_mean is not None:
            self.running_mean *= 1 - self.momentum
            self.running_mean += self.momentum * mu
        if self.running_var is not None:
            self.running_var *= 1 - self.momentum
            self.running_var += self.momentum * var * (m / (m - 1))
        return gamma.reshape(shape) * self.x_hat + beta.reshape(shape)

    def forward_cuda(self, x, gamma, beta):
        n, c, s = x.shape[0], x.shape[1], _spatial(x)
        mu, var, self.inv_std = (cuda.empty(c, x.dtype) for _ in range(3))
        # one block per channel: μ, σ², 1/√(σ² + eps) and the running statistics
        cuda.launch("batch_norm", "batch_norm_forward_stats", x.dtype, c,
                    x, mu, var, self.inv_std, cuda.pointer(self.running_mean),
                    cuda.pointer(self.running_var), cuda.scalar(self.momentum, x.dtype),
                    cuda.scalar(self.eps, x.dtype), np.int64(n), np.int64(c), np.int64(s))
        self.x_hat, y = cuda.empty_like(x), cuda.empty_like(x)
        cuda.launch("batch_norm", "batch_norm_forward_normalize", x.dtype,
                    cuda.blocks_for(x.size), x, mu, self.inv_std, gamma, beta, self.x_hat, y,
                    np.int64(c), np.int64(s), np.int64(x.size))
        return y

    def backward(self, gy):
        x, gamma, _ = self.inputs
        if not grad_mode.is_grad_enabled():
            # no create_graph: the fused gradient from the saved x̂ (two kernels on the GPU)
            return BatchNormGrad(self.x_hat, self.inv_std, gamma.data)(gy)
        # create_graph: rebuild x̂ from x in Tensor ops, so that gx can be differentiated again
        axes, shape = _layout(x)
        m = x.numel() // x.shape[1]
        centered = x - mean(x, axes, keepdim=True)
        inv_std = (mean(centered * centered, axes, keepdim=True) + self.eps) ** -0.5
        x_hat = centered * inv_std
        # ---- gγ, gβ ----
        ggamma = sum(gy * x_hat, axes)
        gbeta = sum(gy, axes)
        # ---- gx ----
        gx = gamma.reshape(*shape) * inv_std * (
            gy - (x_hat * ggamma.reshape(*shape) + gbeta.reshape(*shape)) / m)
        return gx, ggamma, gbeta


class BatchNormGrad(Function):
    """(gx, gγ, gβ) of ``BatchNorm`` from gy and the saved x̂, 1/√(σ² + eps) and γ.

    The formulas of ``BatchNorm``'s docstring on arrays; used when no graph is
    recorded for the backward.
    """

    def __init__(self, x_hat, inv_std, gamma):
        self.x_hat, self.inv_std, self.gamma = x_hat, inv_std, gamma

    def forward(self, gy):
        axes, shape = _layout(gy)
        m = gy.size // gy.shape[1]
        ggamma = (gy * self.x_hat).sum(axis=axes)
        gbeta = gy.sum(axis=axes)
        gx = (self.gamma * self.inv_std).reshape(shape) * (
            gy - (self.x_hat * ggamma.reshape(shape) + gbeta.reshape(shape)) / m)
        return gx, ggamma, gbeta

    def forward_cuda(self, gy):
        n, c, s = gy.shape[0], gy.shape[1], _spatial(gy)
        ggamma, gbeta = cuda.empty(c, gy.dtype), cuda.empty(c, gy.dtype)
        # one block per channel: gγ = Σ gy x̂, gβ = Σ gy
        cuda.launch("batch_norm", "batch_norm_backward_reduce", gy.dtype, c,
                    gy, self.x_hat, ggamma, gbeta, np.int64(n), np.int64(c), np.int64(s))
        gx = cuda.empty_like(gy)
        cuda.launch("batch_norm", "batch_norm_backward_x", gy.dtype, cuda.blocks_for(gy.size),
                    gy, self.x_hat, cuda.dense(self.gamma), self.inv_std, ggamma, gbeta, gx,
                    np.int64(c), np.int64(s), np.int64(gy.size))
        return gx, ggamma, gbeta


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
        _, shape = _layout(x)
        x_hat = (x - self.running_mean.reshape(shape)) * self.inv_std.reshape(shape)
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)

    def forward_cuda(self, x, gamma, beta):
        y = cuda.empty_like(x)
        cuda.launch("batch_norm", "batch_norm_forward_normalize", x.dtype,
                    cuda.blocks_for(x.size), x, self.running_mean, self.inv_std, gamma, beta,
                    cuda.NULL, y, np.int64(x.shape[1]), np.int64(_spatial(x)), np.int64(x.size))
        return y

    def backward(self, gy):
        from ..tensor import Tensor
        x, gamma, _ = self.inputs
        axes, shape = _layout(x)
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
    from ..tensor import ones, zeros
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)} but the input "
                             f"{tuple(input.shape)} has {channels} channels")
    if weight is None:
        weight = ones(channels, dtype=input.dtype, device=input.device)
    if bias is None:
        bias = zeros(channels, dtype=input.dtype, device=input.device)
    cuda.kernel_dtype("batch_norm", input=input, weight=weight, bias=bias,
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
