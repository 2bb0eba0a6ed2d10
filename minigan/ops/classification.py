"""Classification: log_softmax (fused and stable), softmax, nll_loss and cross_entropy.

Only log_softmax is a primitive. The losses are composites over it: a constant
coefficient array ``coef`` (N, C, ...) says how much of each log-probability
a sample pays,

    ℓ[n] = -Σ_c coef[n, c] · log p[n, c]

coef is one-hot at the target for nll_loss, scaled by the class weight and
zeroed at ``ignore_index``; label smoothing spreads ε of it evenly over the
classes. So every option is one line of NumPy on constants, and the gradient
is log_softmax's own.
"""
import builtins

import numpy as np

from ..autograd.function import Function
from .. import backend
from ..tensor import Tensor
from .arith import exp
from .loss import check_reduction, reduce_loss
from .reduce import _axes, sum



class LogSoftmax(Function):
    """y = x - m - ln Σ e^(x - m) along ``axis``, with m = max x along it.

        gx = gy - softmax(x) · Σ gy,   softmax(x) = e^y
    written in Tensor ops on the output y, so gx can be differentiated again.
    """

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = self.xp(x)
        # NOTE: after subtracting the max every exponent is ≤ 0 and one term is e^0 = 1, so
        # the exp cannot overflow and the sum inside the log is ≥ 1.
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        y = self.outputs[0]()   # the output alone is needed: softmax(x) = e^y
        return gy - exp(y) * sum(gy, self.axis, keepdim=True)


# ---- public functions ----
def log_softmax(input, dim=-1):
    """ln softmax(x) along ``dim``, computed without overflow. The math: ``LogSoftmax``."""
    axis = _axes(dim, input.ndim, "log_softmax")[0]
    if input.ndim == 0 or input.shape[axis] == 0:
        raise ValueError(f"log_softmax: dim {dim} of input of shape {tuple(input.shape)} "
                         f"has no elements")
    return LogSoftmax(axis)(input)


def softmax(input, dim=-1):
    """e^x / Σ e^x along ``dim``, as e^log_softmax(x) (no overflow; no backward of its own)."""
    return exp(log_softmax(input, dim))


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer class targets, as ``torch.nn.functional.nll_loss``.

    input (N, C, ...) log-probabilities, or (C,) for one sample; target (N, ...) or ()
    integers in [0, C) (or ``ignore_index``); weight (C,) per-class weights or None.
        ℓ[n] = -w[t_n] · input[n, t_n]    (0 where t_n = ignore_index)
    'mean' divides Σ ℓ by Σ w[t_n] over the samples not ignored; 'sum' adds; 'none' keeps ℓ.
    """
    _check_args("nll_loss", input, target, weight, reduction, 0.0)
    return _weighted_nll(input, target, weight, ignore_index, reduction, 0.0)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits and integer class targets, as ``torch.nn.functional.cross_entropy``.

    input (N, C, ...) logits, or (C,); target (N, ...) or () integers in [0, C). With
    log p = log_softmax(input, 1) and the smoothed target q = (1 - ε) onehot(t) + ε / C:
        ℓ[n] = -Σ_c w[c] q[n, c] log p[n, c]
    which is nll_loss(log p) when ε = 0. Reductions as ``nll_loss`` (PyTorch's, smoothing
    included).
    """
    op = "cross_entropy"
    _check_args(op, input, target, weight, reduction, label_smoothing)
    log_p = log_softmax(input, 0 if input.ndim == 1 else 1)
    return _weighted_nll(log_p, target, weight, ignore_index, reduction, label_smoothing, op)


def _weighted_nll(log_p, target, weight, ignore_index, reduction, label_smoothing, op="nll_loss"):
    """-Σ_c coef · log p with coef built from the targets (see the module docstring), reduced."""
    xp = Function.xp(log_p.data)
    t = target.data if isinstance(target, Tensor) else target
    t = backend.arrays_for(log_p.data).asarray(t)   # the targets on log_p's device
    c = log_p.shape[0 if log_p.ndim == 1 else 1]
    keep = t != ignore_index
    if not xp.all(~keep | ((t >= 0) & (t < c))):
        bad = t[keep & ((t < 0) | (t >= c))].ravel()[0]
        raise ValueError(f"{op}: target {int(bad)} is out of bounds for {c} classes "
                         f"(input of shape {tuple(log_p.shape)})")
    w = xp.ones(c, dtype=log_p.dtype) if weight is None else \
        xp.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=log_p.dtype)
    # t (N, ...) -> (N, 1, ...), to meet the classes (C, 1, ...) on the class axis
    if log_p.ndim == 1:
        t, keep, class_axis = t.reshape(1), keep.reshape(1), 0
    else:
        t, keep, class_axis = xp.expand_dims(t, 1), xp.expand_dims(keep, 1), 1
    classes = xp.arange(c).reshape((c,) + (1,) * (log_p.ndim - 1 - class_axis))
    onehot = (t == classes).astype(log_p.dtype)
    q = (1 - label_smoothing) * onehot + label_smoothing / c
    coef = w.reshape(classes.shape) * q * keep   # a constant: the loss is linear in log p
    loss = -sum(log_p * coef, class_axis)
    # 'mean': by the weight of the targets kept, Σ w[t_n] (the count of them without weights)
    total = xp.asarray((w.reshape(classes.shape) * onehot * keep).sum(), dtype=log_p.dtype)
    return reduce_loss(loss, reduction, total)


def _check_args(op, input, target, weight, reduction, label_smoothing):
    """Raise ValueError for what PyTorch rejects, naming the op and the shapes."""
    shape = tuple(input.shape)
    t_shape = tuple(np.shape(target.data if isinstance(target, Tensor) else target))
    t_dtype = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0 or input.dtype.kind != "f":
        raise ValueError(f"{op}: expected a float input (C,) or (N, C, ...), got shape {shape} "
                         f"of dtype {input.dtype}")
    if t_dtype.kind not in "iu":
        raise ValueError(f"{op}: expected integer class indices as target, got dtype {t_dtype} "
                         f"(shape {t_shape})")
    expected = () if input.ndim == 1 else shape[:1] + shape[2:]
    if t_shape != expected:
        raise ValueError(f"{op}: target of shape {t_shape} does not match input of shape "
                         f"{shape}; expected {expected}")
    c = shape[0 if input.ndim == 1 else 1]
    if weight is not None and tuple(np.shape(weight.data if isinstance(weight, Tensor)
                                             else weight)) != (c,):
        raise ValueError(f"{op}: weight of shape {tuple(np.shape(weight))} does not match the "
                         f"{c} classes of input of shape {shape}")
    if c == 0 or builtins.min(shape) == 0:
        raise ValueError(f"{op}: input of shape {shape} has no elements")
