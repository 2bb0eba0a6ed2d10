"""Losses: fused binary cross-entropy with logits, binary cross-entropy, mean squared error."""
from ..autograd.function import Function
from .activation import sigmoid, softplus
from .arith import clamp, log
from .reduce import mean, sum

_REDUCTIONS = ("mean", "sum", "none")


class BCEWithLogits(Function):
    """Binary cross-entropy on logits x with targets t ∈ [0, 1], fused and stable.

    With pos_weight p and weight w (constants):
        ℓ = w · [(1 - t) x + (1 + (p - 1) t) softplus(-x)]
        gx = w · [(1 + (p - 1) t) σ(x) - p t] · gy
        gt = w · [(p - 1) softplus(-x) - x] · gy
    reduction 'mean' divides by the number of elements, 'sum' adds them, 'none' keeps them.
    """

    def __init__(self, weight, pos_weight, reduction):
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction

    def forward(self, x, t):
        xp = self.xp(x)
        # NOTE: softplus(-x) = max(-x, 0) + log1p(e^-|x|): no overflow for logits of ±1e4.
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-abs(x)))
        if self.pos_weight is None:
            loss = (1 - t) * x + sp
        else:
            loss = (1 - t) * x + (1 + (self.pos_weight - 1) * t) * sp
        if self.weight is not None:
            loss = loss * self.weight
        self.count = loss.size
        if self.reduction == "mean":
            return xp.asarray(loss.mean(), dtype=loss.dtype)
        if self.reduction == "sum":
            return xp.asarray(loss.sum(), dtype=loss.dtype)
        return loss

    def backward(self, gy):
        x, t = self.inputs
        if self.reduction == "mean":
            gy = gy / self.count
        w = 1 if self.weight is None else self.weight
        p = 1 if self.pos_weight is None else self.pos_weight
        # ---- gx ----
        gx = None
        if self.needs_input_grad[0]:
            if self.pos_weight is None:
                gx = gy * w * (sigmoid(x) - t)
            else:
                gx = gy * w * ((1 + (p - 1) * t) * sigmoid(x) - p * t)
        # ---- gt ----
        gt = None
        if self.needs_input_grad[1]:
            gt = gy * w * ((p - 1) * softplus(-x) - x) if self.pos_weight is not None else -gy * w * x
        return gx, gt


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction="mean"):
    """Stable ``-[t log σ(x) + (1 - t) log(1 - σ(x))]`` in one op; see ``BCEWithLogits``."""
    from ..tensor import Tensor, as_tensor
    target = as_tensor(target, like=input)
    _check_loss_args("binary_cross_entropy_with_logits", input, target, reduction)
    w = _constant(weight, input)
    p = _constant(pos_weight, input)
    return BCEWithLogits(w, p, reduction)(input, target)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-w [t log p + (1 - t) log(1 - p)]`` on probabilities p.

    As in PyTorch each log is clamped at -100, so p = 0 or 1 gives a finite loss.
    """
    from ..tensor import as_tensor
    target = as_tensor(target, like=input)
    _check_loss_args("binary_cross_entropy", input, target, reduction)
    # NOTE: clamping the logs at -100 (as PyTorch) keeps p = 0 or 1 finite.
    loss = -(target * clamp(log(input), min=-100) + (1 - target) * clamp(log(1 - input), min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def mse_loss(input, target, reduction="mean"):
    """``(x - t)²``, reduced."""
    from ..tensor import as_tensor
    target = as_tensor(target, like=input)
    _check_loss_args("mse_loss", input, target, reduction)
    diff = input - target
    return _reduce(diff * diff, reduction)


def _reduce(loss, reduction):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def _constant(value, like):
    from ..tensor import Tensor
    from ..backend import to_device
    if value is None:
        return None
    array = value.data if isinstance(value, Tensor) else value
    return to_device(array, like.device).astype(like.dtype) if hasattr(array, "astype") \
        else like.dtype.type(array)


def _check_loss_args(op, input, target, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: target shape {tuple(target.shape)} must match input shape "
                         f"{tuple(input.shape)}")
