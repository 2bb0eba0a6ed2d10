"""Losses: fused binary cross-entropy with logits, binary cross-entropy, mean squared error."""
import numpy as np

from .. import cuda
from ..autograd.function import Function
from .. import backend
from ..tensor import Tensor, as_tensor
from ._args import kernel_dtype
from .activation import sigmoid, sigmoid_array, softplus, softplus_array
from .arith import clamp, log
from .reduce import mean, sum

REDUCTIONS = ("mean", "sum", "none")


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
        sp = softplus_array(-x)
        if self.pos_weight is None:
            loss = (1 - t) * x + sp
        else:
            loss = (1 - t) * x + (1 + (self.pos_weight - 1) * t) * sp
        if self.weight is not None:
            loss = loss * self.weight
        if self.reduction == "mean":
            return xp.asarray(loss.mean(), dtype=loss.dtype)
        if self.reduction == "sum":
            return xp.asarray(loss.sum(), dtype=loss.dtype)
        return loss

    def forward_cuda(self, x, t):
        n = x.size
        w, p = _full(self.weight, x), _full(self.pos_weight, x)
        blocks = cuda.blocks_for(n)
        if self.reduction == "none":
            loss = cuda.empty_like(x)
            cuda.launch("bce_with_logits", "bce_with_logits_forward", x.dtype, blocks,
                        x, t, cuda.pointer(w), cuda.pointer(p), loss, cuda.NULL, np.int64(n))
            return loss
        # a partial sum per block, then one block adds them in a fixed order: deterministic
        partials = cuda.empty(blocks, x.dtype)
        cuda.launch("bce_with_logits", "bce_with_logits_forward", x.dtype, blocks,
                    x, t, cuda.pointer(w), cuda.pointer(p), cuda.NULL, partials, np.int64(n))
        out = cuda.empty((), x.dtype)
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        cuda.launch("bce_with_logits", "sum_partials", x.dtype, 1,
                    partials, out, cuda.scalar(scale, x.dtype), np.int64(blocks))
        return out

    def backward(self, gy):
        x, t = self.inputs
        scale = 1 / x.numel() if self.reduction == "mean" else 1   # 'mean': 1 / count
        return BCEWithLogitsGrad(self.weight, self.pos_weight, scale,
                                 wanted=self.needs_input_grad)(x, t, gy)


class BCEWithLogitsGrad(Function):
    """(gx, gt) of ``BCEWithLogits`` as an op of (x, t, gy), with c = 1/count for 'mean'
    (else 1), a = 1 + (p - 1) t and σ = σ(x):

        gx = c w gy (a σ - p t),   gt = c w gy ((p - 1) softplus(-x) - x)
    and its own backward, for gradient penalties (σ' = σ (1 - σ), softplus(-x)' = σ - 1):
        g(x)  = c w gy [ggx · a σ (1 - σ) + ggt · ((p - 1)(σ - 1) - 1)]
        g(t)  = c w gy · ggx · ((p - 1) σ - p)
        g(gy) = c w [ggx (a σ - p t) + ggt ((p - 1) softplus(-x) - x)]   (summed to gy's shape)
    """

    def __init__(self, weight, pos_weight, scale, wanted):
        self.weight, self.pos_weight, self.scale = weight, pos_weight, scale
        self.wanted = wanted   # (gx?, gt?): which to compute, None for the other

    def forward(self, x, t, gy):
        g = gy * self.scale if self.weight is None else gy * self.scale * self.weight
        p = 1 if self.pos_weight is None else self.pos_weight
        gx = g * ((1 + (p - 1) * t) * sigmoid_array(x) - p * t) if self.wanted[0] else None
        gt = g * ((p - 1) * softplus_array(-x) - x) if self.wanted[1] else None
        return gx, gt

    def forward_cuda(self, x, t, gy):
        w, p = _full(self.weight, x), _full(self.pos_weight, x)
        gx = cuda.empty_like(x) if self.wanted[0] else None
        gt = cuda.empty_like(x) if self.wanted[1] else None
        cuda.launch("bce_with_logits", "bce_with_logits_backward", x.dtype,
                    cuda.blocks_for(x.size), x, t, cuda.pointer(w), cuda.pointer(p),
                    gy, np.int64(gy.size), cuda.scalar(self.scale, x.dtype), cuda.pointer(gx),
                    cuda.pointer(gt), np.int64(x.size))
        return gx, gt

    def backward(self, ggx, ggt):
        x, t, gy = self.inputs
        cw = self.scale if self.weight is None else self.scale * self.weight
        p = 1 if self.pos_weight is None else self.pos_weight
        sig = sigmoid(x)
        # ---- g(x), g(t) ----
        needs_x, needs_t, needs_gy = self.needs_input_grad
        g_x = g_t = None
        if ggx is not None:
            g_x = ggx * (1 + (p - 1) * t) * sig * (1 - sig) if needs_x else None
            g_t = ggx * ((p - 1) * sig - p) if needs_t else None
        if ggt is not None and needs_x:
            term = ggt * ((p - 1) * (sig - 1) - 1)
            g_x = term if g_x is None else g_x + term
        g_x = None if g_x is None else g_x * gy * cw
        g_t = None if g_t is None else g_t * gy * cw
        # ---- g(gy) ----
        g_gy = None
        if needs_gy:
            terms = []
            if ggx is not None:
                terms.append(ggx * ((1 + (p - 1) * t) * sig - p * t))
            if ggt is not None:
                terms.append(ggt * ((p - 1) * softplus(-x) - x))
            g_gy = (terms[0] if len(terms) == 1 else terms[0] + terms[1]) * cw
        return g_x, g_t, g_gy


def _full(constant, x):
    """A weight broadcast to x's shape, contiguous, for a kernel (None stays None)."""
    if constant is None:
        return None
    xp = Function.xp(x)
    return xp.ascontiguousarray(xp.broadcast_to(xp.asarray(constant, dtype=x.dtype), x.shape))


class BinaryCrossEntropy(Function):
    """Binary cross-entropy on probabilities p with targets t, elementwise and unweighted:

        ℓ = -[t · max(ln p, -100) + (1 - t) · max(ln(1 - p), -100)]
        gp = gy · (p - t) / max(p (1 - p), 1e-12)
        gt = gy · [max(ln(1 - p), -100) - max(ln p, -100)]
    """

    def forward(self, p, t):
        xp = self.xp(p)
        # NOTE: the logs are clamped at -100 (as PyTorch), so p = 0 or 1 gives a finite loss.
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), -100)
            log_1mp = xp.maximum(xp.log(1 - p), -100)
        return -(t * log_p) - (1 - t) * log_1mp

    def backward(self, gy):
        p, t = self.inputs
        # ---- gp ----
        gp = None
        if self.needs_input_grad[0]:
            # NOTE: clamped like PyTorch's; through the clamped logs it would be 0/0 = NaN.
            gp = gy * (p - t) / clamp(p * (1 - p), min=1e-12)
        # ---- gt ----
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = gy * (clamp(log(1 - p), min=-100) - clamp(log(p), min=-100))
        return gp, gt


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction="mean"):
    """Stable ``-[t log σ(x) + (1 - t) log(1 - σ(x))]`` in one op; see ``BCEWithLogits``."""
    target = as_tensor(target, like=input)
    _check_loss_args("binary_cross_entropy_with_logits", input, target, reduction)
    kernel_dtype("binary_cross_entropy_with_logits", input=input, target=target)
    w = _constant(weight, input)
    p = _constant(pos_weight, input)
    return BCEWithLogits(w, p, reduction)(input, target)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-w [t log p + (1 - t) log(1 - p)]`` on probabilities p.

    As in PyTorch each log is clamped at -100, so p = 0 or 1 gives a finite loss and
    gradient; see ``BinaryCrossEntropy``.
    """
    target = as_tensor(target, like=input)
    _check_loss_args("binary_cross_entropy", input, target, reduction)
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction)


def mse_loss(input, target, reduction="mean"):
    """``(x - t)²``, reduced."""
    target = as_tensor(target, like=input)
    _check_loss_args("mse_loss", input, target, reduction)
    diff = input - target
    return reduce_loss(diff * diff, reduction)


def reduce_loss(loss, reduction, total=None):
    """'none' keeps the elementwise loss, 'sum' adds it up, 'mean' divides that sum by
    ``total`` (default: the number of elements). Every loss reduces here."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return sum(loss)
    return mean(loss) if total is None else sum(loss) / total


def check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _constant(value, like):
    if value is None:
        return None
    array = value.data if isinstance(value, Tensor) else value
    # a copy in like's dtype on like's device, through its namespace (backend.arrays_for)
    return backend.arrays_for(like.data).array(array, like.dtype) if hasattr(array, "astype") \
        else like.dtype.type(array)


def _check_loss_args(op, input, target, reduction):
    check_reduction(op, reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: target shape {tuple(target.shape)} must match input shape "
                         f"{tuple(input.shape)}")
