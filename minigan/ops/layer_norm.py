"""Layer normalization (Ba et al., 2016): one fused op, differentiable twice."""
from ..autograd import grad_mode
from ..autograd.function import Function
from .reduce import mean, sum


class LayerNorm(Function):
    """Normalization of each sample over its last k axes, the ``normalized_shape``.

    With x viewed as (B, M), M values per row, and γ, β of the normalized shape:
        μ = Σx / M,   σ² = Σ(x - μ)² / M,   x̂ = (x - μ) / √(σ² + eps),   y = γ x̂ + β
        gγ = Σ_rows gy x̂,   gβ = Σ_rows gy
        gx = (g - mean(g) - x̂ · mean(g x̂)) / √(σ² + eps),   g = gy γ
    the means taken along each row. The last line is BatchNorm's gx with the roles of
    the axes swapped: there the statistics are per channel, here per sample.
    """

    def __init__(self, k, eps):
        self.k, self.eps = k, eps

    def forward(self, x, gamma, beta):
        xp = self.xp(x)
        rows = x.reshape(-1, gamma.size)                 # (..., *normalized) -> (B, M)
        mu = rows.mean(axis=1, keepdims=True)
        var = rows.var(axis=1, keepdims=True)            # two passes: no cancellation
        # saved for backward: x̂ and 1/√(σ² + eps) are all it needs besides γ
        self.inv_std = 1 / xp.sqrt(var + self.eps)        # (B, 1)
        self.x_hat = ((rows - mu) * self.inv_std).reshape(x.shape)
        return gamma * self.x_hat + beta

    def backward(self, gy):
        x, gamma, _ = self.inputs
        if not grad_mode.is_grad_enabled():
            # no create_graph: the fused gradient from the saved x̂
            return LayerNormGrad(self.x_hat, self.inv_std, gamma.data)(gy)
        # create_graph: rebuild x̂ from x in Tensor ops, so that gx can be differentiated again
        axes = tuple(range(x.ndim - self.k, x.ndim))     # the normalized axes
        batch = tuple(range(x.ndim - self.k))            # the others: one row per index
        centered = x - mean(x, axes, keepdim=True)
        inv_std = (mean(centered * centered, axes, keepdim=True) + self.eps) ** -0.5
        x_hat = centered * inv_std
        # ---- gγ, gβ ----
        ggamma = sum(gy * x_hat, batch) if self.needs_input_grad[1] else None
        gbeta = sum(gy, batch) if self.needs_input_grad[2] else None
        # ---- gx ----
        gx = None
        if self.needs_input_grad[0]:
            g = gy * gamma
            gx = (g - mean(g, axes, keepdim=True)
                  - x_hat * mean(g * x_hat, axes, keepdim=True)) * inv_std
        return gx, ggamma, gbeta


class LayerNormGrad(Function):
    """(gx, gγ, gβ) of ``LayerNorm`` from gy and the saved x̂, 1/√(σ² + eps) and γ.

    The formulas of ``LayerNorm``'s docstring on arrays; used when no graph is
    recorded for the backward.
    """

    def __init__(self, x_hat, inv_std, gamma):
        self.x_hat, self.inv_std, self.gamma = x_hat, inv_std, gamma

    def forward(self, gy):
        m = self.gamma.size
        # ---- gγ, gβ ----
        ggamma = (gy * self.x_hat).reshape(-1, m).sum(axis=0).reshape(self.gamma.shape)
        gbeta = gy.reshape(-1, m).sum(axis=0).reshape(self.gamma.shape)
        # ---- gx ----
        g = (gy * self.gamma).reshape(-1, m)             # (..., *normalized) -> (B, M)
        x_hat = self.x_hat.reshape(-1, m)
        gx = (g - g.mean(axis=1, keepdims=True)
              - x_hat * (g * x_hat).mean(axis=1, keepdims=True)) * self.inv_std
        return gx.reshape(gy.shape), ggamma, gbeta


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` axes, as
    ``torch.nn.functional.layer_norm``; weight (γ) and bias (β), when given, have the
    normalized shape. The math: ``LayerNorm``.
    """
    from ..tensor import ones, zeros
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the last "
                         f"{k} dimensions of the input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected the "
                             f"normalized_shape {shape}")
    if weight is None:
        weight = ones(*shape, dtype=input.dtype, device=input.device)
    if bias is None:
        bias = zeros(*shape, dtype=input.dtype, device=input.device)
    return LayerNorm(k, eps)(input, weight, bias)
