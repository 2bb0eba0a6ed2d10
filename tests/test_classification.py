"""log_softmax, softmax, nll_loss, cross_entropy, max/avg pooling, the pooling and dropout
layers and the classifier: forward against NumPy references, gradcheck and gradgradcheck in
float64 on every device (``check_op``), and every rejected argument.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigan
import minigan.functional as F
from helpers import check_op
from minigan import nn
from minigan.models import Classifier
from minigan.testing import float_arrays, shapes


# ---- references ----
def log_softmax_np(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def cross_entropy_np(x, t, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """PyTorch's formula, by gathering (the op builds one-hot coefficients instead)."""
    axis = 0 if x.ndim == 1 else 1
    lp = np.moveaxis(log_softmax_np(x, axis), axis, -1)       # (N, ..., C)
    c = lp.shape[-1]
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    nll = -w[tt] * np.take_along_axis(lp, tt[..., None], -1)[..., 0] * keep
    smooth = -(lp * w).sum(-1) * keep
    loss = (1 - eps) * nll + eps / c * smooth
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / (w[tt] * keep).sum()


def pool_np(x, kernel, stride, padding, reduce):
    (kh, kw), (sy, sx), (py, px) = kernel, stride, padding
    fill = -np.inf if reduce is np.max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (py, py), (px, px)), constant_values=fill)
    oh, ow = (xp.shape[2] - kh) // sy + 1, (xp.shape[3] - kw) // sx + 1
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = reduce(xp[:, :, i * sy:i * sy + kh, j * sx:j * sx + kw], axis=(2, 3))
    return y


# ---- strategies ----
@st.composite
def logits_and_targets(draw):
    """(x, t, class axis): x (C,), (N, C) or (N, C, L); integer t, some at ignore_index -100."""
    n, c, length = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(c,), (n, c), (n, c, length)]))
    t_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    t = draw(hnp.arrays(np.int64, t_shape, elements=st.integers(0, c - 1)))
    if t.ndim and draw(st.booleans()):
        t.flat[0] = -100                               # ignored, one at most: the mean stays finite
        if t.size == 1:
            t.flat[0] = 0
    return draw(float_arrays(shape, min_value=-3, max_value=3)), t


@st.composite
def pool_configs(draw):
    """(shape, kernel, stride, padding) that PyTorch accepts, tiny for gradcheck."""
    pair = lambda lo, hi: st.tuples(st.integers(lo, hi), st.integers(lo, hi))  # noqa: E731
    k, s = draw(pair(1, 3)), draw(pair(1, 3))
    p = tuple(draw(st.integers(0, k[a] // 2)) for a in range(2))
    size = tuple(max(1, k[a] - 2 * p[a]) + draw(st.integers(0, 3)) for a in range(2))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size, k, s, p


SMALL = shapes(min_dims=1, max_dims=3, max_side=4)


# ---- log_softmax, softmax ----
@given(x=float_arrays(SMALL, min_value=-5, max_value=5), data=st.data())
def test_log_softmax(device, x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check_op(lambda x: F.log_softmax(x, dim), x, device=device,
             reference=lambda x: log_softmax_np(x, dim))


@given(x=float_arrays(SMALL, min_value=-5, max_value=5), data=st.data())
def test_softmax(device, x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    y = check_op(lambda x: F.softmax(x, dim), x, device=device,
                 reference=lambda x: np.exp(log_softmax_np(x, dim)))
    np.testing.assert_allclose(y.sum(dim).cpu().numpy(), 1.0, rtol=1e-12)


def test_log_softmax_is_stable_for_huge_logits(device):
    x = minigan.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=minigan.float32,
                       device=device, requires_grad=True)
    y = F.log_softmax(x, 1)
    expected = np.array([[0.0, -1e4, -2e4], [-np.log(3)] * 3], dtype=np.float32)
    np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-6)
    y.sum().backward()
    assert np.isfinite(x.grad.cpu().numpy()).all()


# ---- nll_loss, cross_entropy ----
@given(case=logits_and_targets(), reduction=st.sampled_from(["mean", "sum", "none"]),
       eps=st.sampled_from([0.0, 0.1, 1.0]), weighted=st.booleans())
def test_cross_entropy(device, case, reduction, eps, weighted):
    x, t = case
    c = x.shape[0 if x.ndim == 1 else 1]
    w = np.linspace(0.5, 2.0, c) if weighted else None
    check_op(lambda x, t: F.cross_entropy(x, t, None if w is None else minigan.tensor(w),
                                          reduction=reduction, label_smoothing=eps),
             x, t, device=device,
             reference=lambda x, t: cross_entropy_np(x, t, w, -100, reduction, eps))


@given(case=logits_and_targets(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_nll_loss(device, case, reduction):
    x, t = case
    lp = log_softmax_np(x, 0 if x.ndim == 1 else 1)
    check_op(lambda lp, t: F.nll_loss(lp, t, reduction=reduction), lp, t, device=device,
             reference=lambda lp, t: cross_entropy_np(x, t, reduction=reduction))


def test_cross_entropy_matches_the_textbook_value(device):
    x = minigan.tensor(np.array([[2.0, 1.0, 0.1]]), device=device)
    expected = -np.log(np.exp(2.0) / np.exp([2.0, 1.0, 0.1]).sum())
    assert abs(F.cross_entropy(x, minigan.tensor([0], device=device)).item() - expected) < 1e-12


@pytest.mark.parametrize("call, message", [
    (lambda x, t: F.cross_entropy(x, t.reshape(2, 1)), r"cross_entropy: target of shape \(2, 1\)"),
    (lambda x, t: F.cross_entropy(x, t + 3), r"cross_entropy: target 3 is out of bounds for 3"),
    (lambda x, t: F.cross_entropy(x, t * 1.0), r"cross_entropy: expected integer class"),
    (lambda x, t: F.cross_entropy(x, t, reduction="avg"), r"cross_entropy: reduction must"),
    (lambda x, t: F.cross_entropy(x, t, label_smoothing=1.5), r"label_smoothing must be in"),
    (lambda x, t: F.cross_entropy(x, t, minigan.ones(4)), r"weight of shape \(4,\) does not"),
    (lambda x, t: F.cross_entropy(x.sum(), t), r"cross_entropy: expected a float input"),
    (lambda x, t: F.nll_loss(x, t - 1), r"nll_loss: target -1 is out of bounds"),
    (lambda x, t: F.log_softmax(x[:, :0], 1), r"log_softmax: dim 1 of input of shape \(2, 0\)"),
])
def test_classification_rejects(device, call, message):
    x = minigan.randn(2, 3, device=device)
    t = minigan.tensor([0, 1], device=device)
    with pytest.raises(ValueError, match=message):
        call(x, t)


# ---- pooling ----
@given(cfg=pool_configs(), data=st.data())
def test_max_pool2d(device, cfg, data):
    shape, k, s, p = cfg
    # distinct values: at a tie the gradient jumps, and finite differences see that
    x = data.draw(float_arrays(shape, distinct=True, margin=0.01))
    check_op(lambda x: F.max_pool2d(x, k, s, p), x, device=device,
             reference=lambda x: pool_np(x, k, s, p, np.max))


@given(cfg=pool_configs(), data=st.data())
def test_avg_pool2d(device, cfg, data):
    shape, k, s, p = cfg
    check_op(lambda x: F.avg_pool2d(x, k, s, p), data.draw(float_arrays(shape)), device=device,
             reference=lambda x: pool_np(x, k, s, p, np.mean))


@given(x=float_arrays((1, 2, 4, 6)), size=st.sampled_from([1, 2, (4, 3), (None, 2)]))
def test_adaptive_avg_pool2d(device, x, size):
    full = size if isinstance(size, tuple) else (size, size)
    k = tuple(x.shape[2 + a] // (full[a] or x.shape[2 + a]) for a in range(2))
    check_op(lambda x: F.adaptive_avg_pool2d(x, size), x, device=device,
             reference=lambda x: pool_np(x, k, k, (0, 0), np.mean))


def test_max_pool2d_default_stride_and_ties(device):
    """stride defaults to kernel_size; at a tie the first tap (row-major) gets the gradient."""
    x = minigan.ones(1, 1, 4, 4, device=device, requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.shape == (1, 1, 2, 2)
    y.sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.cpu().numpy()[0, 0], expected)


def test_overlapping_max_windows_add_their_gradients(device):
    x = minigan.tensor(np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]),
                       device=device, requires_grad=True)
    F.max_pool2d(x, 2, 1).sum().backward()          # both top windows pick the 5
    assert x.grad.cpu().numpy()[0, 0, 0, 1] == 2


@pytest.mark.parametrize("call, message", [
    (lambda x: F.max_pool2d(x[0], 2), r"max_pool2d: expected a 4-D input .* shape \(1, 3, 3\)"),
    (lambda x: F.max_pool2d(x, 2, padding=2), r"max_pool2d: padding \(2, 2\) must be .* half"),
    (lambda x: F.avg_pool2d(x, 4), r"avg_pool2d: kernel_size \(4, 4\) is larger than the padded"),
    (lambda x: F.avg_pool2d(x, 0), r"avg_pool2d: kernel_size \(0, 0\) and stride"),
    (lambda x: F.max_pool2d(x, (2, 2, 2)), r"max_pool2d: kernel_size must be an int or a pair"),
    (lambda x: F.adaptive_avg_pool2d(x, 2), r"adaptive_avg_pool2d: output_size 2 must divide"),
])
def test_pooling_rejects(device, call, message):
    with pytest.raises(ValueError, match=message):
        call(minigan.randn(1, 1, 3, 3, device=device))


# ---- layers ----
def test_pooling_modules(device):
    x = minigan.randn(2, 3, 6, 6, device=device)
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).cpu().numpy(),
                                  F.max_pool2d(x, 3, 2, 1).cpu().numpy())
    assert nn.AvgPool2d(2)(x).shape == (2, 3, 3, 3)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=None, padding=0)"


def test_dropout_train_eval_and_seed(device):
    drop = nn.Dropout(0.25)
    x = minigan.ones(200, 100, device=device, requires_grad=True)
    minigan.manual_seed(3)
    y = drop(x)
    values = y.detach().cpu().numpy()
    assert set(np.unique(values)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((values == 0).mean() - 0.25) < 0.02          # 20000 draws: σ ≈ 0.003
    assert abs(values.mean() - 1.0) < 0.03                  # the scaling keeps the mean
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), values)   # gx = gy · mask
    minigan.manual_seed(3)
    np.testing.assert_array_equal(drop(x).detach().cpu().numpy(), values)   # seeded
    drop.eval()
    assert drop(x) is x
    assert (nn.Dropout(1.0)(x).detach().cpu().numpy() == 0).all()
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_classifier_shapes_and_double_backward(device):
    model = Classifier(width=2, hidden=5, num_classes=3).to(device).double()
    x = minigan.randn(4, 1, 28, 28, dtype=minigan.float64, device=device, requires_grad=True)
    assert model.features(x).shape == (4, 5)
    loss = F.cross_entropy(model(x), minigan.tensor([0, 1, 2, 0], device=device))
    (gx,) = minigan.grad(loss, [x], create_graph=True)   # a gradient penalty needs this
    (gx * gx).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
