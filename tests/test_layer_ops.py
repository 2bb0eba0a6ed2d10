"""The layers, losses and BatchNorm as ops: forward against NumPy, gradcheck and
gradgradcheck in float64, on every device (the elementwise, shape and reduction ops are in
tests/test_ops.py).

Shapes and values come from Hypothesis (``minigan.testing``); each test is one call of
``check_op``.
"""
import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from helpers import SMALL, check_op, sigmoid_np, softplus_np
from minigan.testing import float_arrays, shapes


# ---- layers and losses ----
@st.composite
def linear_arrays(draw):
    batch = draw(shapes(max_dims=2, max_side=3))
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    arrays = [draw(float_arrays(batch + (n_in,))), draw(float_arrays((n_out, n_in)))]
    if draw(st.booleans()):
        arrays.append(draw(float_arrays((n_out,))))
    return arrays


@given(linear_arrays())
def test_linear(device, arrays):
    check_op(F.linear, *arrays, device=device,
             reference=lambda x, W, b=0: x @ W.T + b)


def test_op_modules_keep_their_names():
    # a function named like its file, exported by ops/__init__, hides the module:
    # `import minigan.ops.X` then gives the function (ops/linear.py is ops/affine.py for this)
    names = [m.name for m in pkgutil.iter_modules(minigan.ops.__path__)]
    hidden = {name for name in names
              if getattr(minigan.ops, name) is not importlib.import_module(f"minigan.ops.{name}")}
    assert hidden == set()
    assert minigan.ops.linear is F.linear is importlib.import_module("minigan.ops.affine").linear


REDUCE_NP = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(x=float_arrays(SMALL), data=st.data())
def test_mse_loss(device, reduction, x, data):
    t = data.draw(float_arrays(x.shape))
    check_op(lambda x, t: F.mse_loss(x, t, reduction=reduction), x, t, device=device,
             reference=lambda x, t: REDUCE_NP[reduction]((x - t) ** 2))


def bce_logits_np(x, t, w=1.0, p=1.0):
    """-w [p t log σ(x) + (1 - t) log(1 - σ(x))], with log σ(x) = -softplus(-x)."""
    return w * (p * t * softplus_np(-x) + (1 - t) * softplus_np(x))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(x=float_arrays(shapes(min_dims=1, max_dims=3, max_side=3), min_value=-5, max_value=5),
       data=st.data(), with_weight=st.booleans(), with_pos_weight=st.booleans())
def test_bce_with_logits(device, reduction, x, data, with_weight, with_pos_weight):
    t = data.draw(float_arrays(x.shape, min_value=0, max_value=1))
    # weight broadcasts against the input, pos_weight along its last dim (the classes)
    w = data.draw(float_arrays(x.shape[data.draw(st.integers(0, x.ndim)):], min_value=0.1))
    p = data.draw(float_arrays(x.shape[-1:], min_value=0.1, max_value=3))
    w, p = (w if with_weight else None), (p if with_pos_weight else None)

    def fn(x, t):
        return F.binary_cross_entropy_with_logits(
            x, t, weight=None if w is None else minigan.tensor(w, device=device),
            pos_weight=None if p is None else minigan.tensor(p, device=device),
            reduction=reduction)

    check_op(fn, x, t, device=device, reference=lambda x, t: REDUCE_NP[reduction](
        bce_logits_np(x, t, 1.0 if w is None else w, 1.0 if p is None else p)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(p=float_arrays(SMALL, min_value=0.05, max_value=0.95), data=st.data(),
       with_weight=st.booleans())
def test_bce(device, reduction, p, data, with_weight):
    t = data.draw(float_arrays(p.shape, min_value=0, max_value=1))
    w = data.draw(float_arrays(p.shape, min_value=0.1)) if with_weight else None

    def fn(p, t):
        weight = None if w is None else minigan.tensor(w, device=device)
        return F.binary_cross_entropy(p, t, weight=weight, reduction=reduction)

    check_op(fn, p, t, device=device, reference=lambda p, t: REDUCE_NP[reduction](
        -(1.0 if w is None else w) * (t * np.log(p) + (1 - t) * np.log(1 - p))))


def test_bce_with_logits_is_stable_for_huge_logits(device):
    x = minigan.tensor([1e4, -1e4, 1e4, -1e4], dtype=minigan.float64, device=device,
                       requires_grad=True)
    t = minigan.tensor([0.0, 1.0, 1.0, 0.0], dtype=minigan.float64, device=device)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.cpu().numpy(), [1e4, 1e4, 0, 0], atol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1, -1, 0, 0], atol=1e-12)
    with minigan.autograd.detect_anomaly():
        F.binary_cross_entropy_with_logits(x, t, pos_weight=minigan.tensor([3.0])).backward()


@given(float_arrays(SMALL, min_value=-8, max_value=8), st.data())
def test_bce_with_logits_label_smoothing_matches_formula(device, x, data):
    t = data.draw(float_arrays(x.shape, min_value=0, max_value=1))   # soft targets
    x_t, t_t = (minigan.tensor(a, device=device) for a in (x, t))
    loss = F.binary_cross_entropy_with_logits(x_t, t_t, reduction="none").cpu().numpy()
    expected = -(t * np.log(sigmoid_np(x)) + (1 - t) * np.log(1 - sigmoid_np(x)))
    np.testing.assert_allclose(loss, expected, rtol=1e-9, atol=1e-12)


def test_bce_clamps_log_at_minus_100_like_pytorch(device):
    p = minigan.tensor([0.0, 1.0, 0.0, 1.0], dtype=minigan.float64, device=device,
                       requires_grad=True)
    t = minigan.tensor([1.0, 0.0, 0.0, 1.0], dtype=minigan.float64, device=device)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(loss.cpu().numpy(), [100, 100, 0, 0])
    loss.sum().backward()   # PyTorch's gradient: (p - t) / max(p (1 - p), 1e-12)
    np.testing.assert_allclose(p.grad.cpu().numpy(), [-1e12, 1e12, 0, 0], rtol=1e-12)


# ---- batch norm ----
def _bn_np(x, mean, var, gamma, beta, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape) \
        + beta.reshape(shape)


@st.composite
def bn_input(draw):
    """(N, C) or (N, C, H, W) with more than one value per channel, none of them flat."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    spatial = draw(st.sampled_from([(), (1, 2), (2, 2)]))
    assume(n * int(np.prod(spatial)) > 1)
    x = draw(float_arrays((n, c) + spatial))
    axes = (0,) + tuple(range(2, x.ndim))
    assume(x.var(axis=axes).min() > 0.05)   # a flat channel makes 1/σ huge
    return x


@given(bn_input(), st.data())
def test_batch_norm_training(device, x, data):
    c, eps = x.shape[1], 1e-5
    gamma = data.draw(float_arrays((c,), min_value=0.5, max_value=2))
    beta = data.draw(float_arrays((c,)))
    axes = (0,) + tuple(range(2, x.ndim))

    def fn(x, gamma, beta):
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)

    check_op(fn, x, gamma, beta, device=device, atol=1e-9, reference=lambda x, g, b: _bn_np(
        x, x.mean(axis=axes), x.var(axis=axes), g, b, eps))


@given(bn_input())
def test_batch_norm_training_updates_running_stats(device, x):
    c, m, momentum = x.shape[1], x.size // x.shape[1], 0.1
    axes = (0,) + tuple(range(2, x.ndim))
    running_mean = minigan.tensor(np.full(c, 0.5), device=device)
    running_var = minigan.tensor(np.full(c, 2.0), device=device)
    y = F.batch_norm(minigan.tensor(x, device=device), running_mean, running_var,
                     training=True, momentum=momentum)
    np.testing.assert_allclose(y.cpu().numpy(), _bn_np(x, x.mean(axis=axes), x.var(axis=axes),
                                                       np.ones(c), np.zeros(c), 1e-5), atol=1e-9)
    np.testing.assert_allclose(running_mean.cpu().numpy(),
                               0.9 * 0.5 + 0.1 * x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(running_var.cpu().numpy(),
                               0.9 * 2.0 + 0.1 * x.var(axis=axes) * m / (m - 1), rtol=1e-12)


@given(float_arrays(shapes(min_dims=2, max_dims=4, max_side=3)), st.data())
def test_batch_norm_eval(device, x, data):
    c, eps = x.shape[1], 1e-3
    mean = data.draw(float_arrays((c,)))
    var = data.draw(float_arrays((c,), min_value=0.2, max_value=3))
    gamma = data.draw(float_arrays((c,)))
    beta = data.draw(float_arrays((c,)))

    def fn(x, gamma, beta):
        running_mean, running_var = (minigan.tensor(a, device=device) for a in (mean, var))
        return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)

    check_op(fn, x, gamma, beta, device=device,
             reference=lambda x, g, b: _bn_np(x, mean, var, g, b, eps))
