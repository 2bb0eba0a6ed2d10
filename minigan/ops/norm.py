"""Batch normalization, fused: one op in training mode, composites in eval mode."""
from ..autograd import grad_mode
from ..autograd.function import Function
from .reduce import mean, sum


def _layout(x):
    """Reduction axes (all but channel axis 1) and the broadcast shape (1, C, 1, ...)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return axes, shape


class BatchNorm(Function):
    """Training-mode batch normalization over every axis but the channels (axis 1).

    With m values per channel:
        μ = Σx / m,   σ² = Σ(x - μ)² / m,   x̂ = (x - μ) / √(σ² + eps),   y = γ x̂ + β
        gγ = Σ gy x̂,   gβ = Σ gy
        gx = γ / √(σ² + eps) · (gy - (x̂ gγ + gβ) / m)
    """

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, gamma, beta):
        axes, shape = _layout(x)
        self.mean = x.mean(axis=axes)
        self.var = x.var(axis=axes)          # two passes: no cancellation
        self.inv_std = 1 / self.xp(x).sqrt(self.var + self.eps)
        # saved for backward: x̂ and 1/√(σ² + eps) are all it needs besides γ
        self.x_hat = (x - self.mean.reshape(shape)) * self.inv_std.reshape(shape)
        return gamma.reshape(shape) * self.x_hat + beta.reshape(shape)

    def backward(self, gy):
        from ..tensor import Tensor
        x, gamma, _ = self.inputs
        axes, shape = _layout(x)
        m = x.numel() // x.shape[1]
        if grad_mode.is_grad_enabled():
            # create_graph: rebuild x̂ from x, so that gx can be differentiated again
            centered = x - mean(x, axes, keepdim=True)
            inv_std = (mean(centered * centered, axes, keepdim=True) + self.eps) ** -0.5
            x_hat = centered * inv_std
        else:
            x_hat, inv_std = Tensor(self.x_hat), Tensor(self.inv_std.reshape(shape))
        # ---- gγ, gβ ----
        ggamma = sum(gy * x_hat, axes)
        gbeta = sum(gy, axes)
        # ---- gx ----
        gx = gamma.reshape(*shape) * inv_std * (
            gy - (x_hat * ggamma.reshape(*shape) + gbeta.reshape(*shape)) / m)
        return gx, ggamma, gbeta


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize ``(N, C)`` or ``(N, C, H, W)`` input per channel, as ``torch.nn.functional.batch_norm``.

    training: batch statistics, and (when given) the running ones are updated in place:
        running_mean ← (1 - momentum) running_mean + momentum μ
        running_var  ← (1 - momentum) running_var  + momentum σ² m / (m - 1)   (unbiased)
    eval: y = (x - running_mean) / √(running_var + eps) γ + β.
    """
    from ..tensor import Tensor, ones, zeros
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
    axes, shape = _layout(input)

    if training:
        m = input.numel() // channels
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(input.shape)}")
        fn = BatchNorm(eps)
        y = fn(input, weight, bias)
        if running_mean is not None:
            running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * fn.mean
        if running_var is not None:
            unbiased = fn.var * (m / (m - 1))
            running_var.data[...] = (1 - momentum) * running_var.data + momentum * unbiased
        return y

    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: eval mode needs running_mean and running_var")
    inv_std = Tensor(1 / Function.xp(input.data).sqrt(running_var.data + eps))
    scale = weight * inv_std
    shift = bias - Tensor(running_mean.data) * scale
    return input * scale.reshape(*shape) + shift.reshape(*shape)
