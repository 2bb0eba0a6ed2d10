"""Every op: forward against NumPy, gradcheck and gradgradcheck in float64, on every device
(the layers, losses and BatchNorm: tests/test_layer_ops.py).

Shapes and values come from Hypothesis (``minigan.testing``); each test is
one call of ``check_op``. Shapes stay small: the checks are element by element.
"""
import math
import operator

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from helpers import SMALL, check_op, sigmoid_np, softplus_np
from minigan.testing import broadcastable_shapes, float_arrays, shapes


@st.composite
def pairs(draw, a=None, b=None, **shape_kw):
    """Two arrays of broadcastable shapes; ``a``/``b`` are float_arrays keyword dicts."""
    shape_kw = {"max_dims": 3, "max_side": 3, **shape_kw}
    sa, sb = draw(broadcastable_shapes(**shape_kw))
    return draw(float_arrays(sa, **(a or {}))), draw(float_arrays(sb, **(b or {})))


@st.composite
def dims(draw, ndim):
    """None, one dim (maybe negative) or a tuple of distinct dims of an ndim-array."""
    if ndim == 0:
        return None
    axis = st.integers(-ndim, ndim - 1)
    return draw(st.none() | axis | st.lists(axis, min_size=1, max_size=ndim,
                                            unique_by=lambda d: d % ndim).map(tuple))


# ---- elementwise arithmetic (broadcasting) ----
@given(pairs())
@example(ab=(np.ones((3, 1)), np.arange(8.0).reshape(2, 1, 4)))   # 1s and a missing leading dim
def test_add(device, ab):
    check_op(operator.add, *ab, device=device, reference=np.add)


@given(pairs())
def test_sub(device, ab):
    check_op(operator.sub, *ab, device=device, reference=np.subtract)


@given(pairs())
def test_mul(device, ab):
    check_op(operator.mul, *ab, device=device, reference=np.multiply)


@given(pairs(b=dict(away_from=[0], margin=0.3)))
def test_div(device, ab):
    check_op(operator.truediv, *ab, device=device, reference=np.divide)


@given(float_arrays(SMALL, away_from=[0], margin=0.3))
def test_scalar_operands(device, x):
    check_op(lambda x: 2.5 + x, x, device=device, reference=lambda x: 2.5 + x)
    check_op(lambda x: 2.5 - x, x, device=device, reference=lambda x: 2.5 - x)
    check_op(lambda x: x * 3, x, device=device, reference=lambda x: x * 3)
    check_op(lambda x: 1.5 / x, x, device=device, reference=lambda x: 1.5 / x)


@given(float_arrays(SMALL))
def test_neg(device, x):
    check_op(operator.neg, x, device=device, reference=np.negative)


# ---- pow ----
@pytest.mark.parametrize("c", [2, 3, -1, 0.5, -1.5, 0])
@given(x=float_arrays(SMALL, min_value=0.5, max_value=2))
def test_pow_scalar_exponent(device, c, x):
    check_op(lambda x: x ** c, x, device=device, reference=lambda x: x ** c)


@given(float_arrays(SMALL))
def test_pow_integer_exponent_of_negatives(device, x):
    check_op(lambda x: x ** 3, x, device=device, reference=lambda x: x ** 3)


@given(pairs(a=dict(min_value=0.5, max_value=2)))
def test_pow_tensor_exponent(device, ab):
    check_op(operator.pow, *ab, device=device, reference=np.power)


@given(float_arrays(SMALL))
def test_pow_number_base(device, x):
    check_op(lambda x: 2.0 ** x, x, device=device, reference=lambda x: 2.0 ** x)


# ---- elementwise functions ----
@given(float_arrays(SMALL))
def test_exp(device, x):
    check_op(minigan.exp, x, device=device, reference=np.exp)


@given(float_arrays(SMALL, min_value=0.2, max_value=3))
def test_log(device, x):
    check_op(minigan.log, x, device=device, reference=np.log)


@given(float_arrays(SMALL, min_value=0.2, max_value=3))
def test_sqrt(device, x):
    check_op(minigan.sqrt, x, device=device, reference=np.sqrt)


@given(float_arrays(SMALL, away_from=[0]))
def test_abs(device, x):
    check_op(minigan.abs, x, device=device, reference=np.abs)


@pytest.mark.parametrize("lo, hi", [(-0.5, 0.5), (-0.5, None), (None, 0.5)])
@given(x=float_arrays(SMALL, away_from=[-0.5, 0.5]))
def test_clamp(device, lo, hi, x):
    check_op(lambda x: x.clamp(lo, hi), x, device=device, reference=lambda x: np.clip(x, lo, hi))


# ---- matmul ----
@st.composite
def matmul_arrays(draw):
    """(..., n, k) @ (..., k, m) with broadcast batch dims; either side may be 1-D (k,)."""
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_side=3))
    n, k, m = draw(st.tuples(*[st.integers(1, 3)] * 3))
    sa = (k,) if draw(st.booleans()) else batch_a + (n, k)
    sb = (k,) if draw(st.booleans()) else batch_b + (k, m)
    return draw(float_arrays(sa)), draw(float_arrays(sb))


@given(matmul_arrays())
@example(ab=(np.ones((2, 1, 2, 3)), np.ones((3, 3, 2))))    # batch dims broadcast
@example(ab=(np.ones(3), np.ones(3)))                       # 1-D @ 1-D: a dot product
@example(ab=(np.ones(3), np.ones((2, 3, 2))))               # 1-D @ batched
@example(ab=(np.ones((2, 2, 3)), np.ones(3)))               # batched @ 1-D
def test_matmul(device, ab):
    check_op(operator.matmul, *ab, device=device, reference=np.matmul)


# ---- reductions ----
@st.composite
def array_and_dims(draw, **kw):
    x = draw(float_arrays(shapes(min_dims=1, max_dims=3, max_side=3), **kw))
    return x, draw(dims(x.ndim))


@given(array_and_dims(), st.booleans())
def test_sum(device, xd, keepdim):
    x, dim = xd
    check_op(lambda x: x.sum(dim, keepdim), x, device=device,
             reference=lambda x: np.sum(x, axis=dim, keepdims=keepdim))


@given(array_and_dims(), st.booleans())
def test_mean(device, xd, keepdim):
    x, dim = xd
    check_op(lambda x: minigan.mean(x, dim, keepdim), x, device=device,
             reference=lambda x: np.mean(x, axis=dim, keepdims=keepdim))


@given(array_and_dims(), st.booleans(), st.sampled_from([None, 0, 1, 2]))
def test_var(device, xd, keepdim, correction):
    x, dim = xd
    count = x.size if dim is None else np.prod(np.array(x.shape)[np.array(dim)])
    ddof = 1 if correction is None else correction
    assume(count > ddof)
    check_op(lambda x: x.var(dim, keepdim=keepdim, correction=correction), x, device=device,
             reference=lambda x: np.var(x, axis=dim, ddof=ddof, keepdims=keepdim))


@given(float_arrays(SMALL))
def test_var_unbiased_false(device, x):
    check_op(lambda x: x.var(unbiased=False), x, device=device, reference=np.var)


@pytest.mark.parametrize("op, np_op, np_arg", [(minigan.max, np.max, np.argmax),
                                               (minigan.min, np.min, np.argmin)])
@given(x=float_arrays(shapes(min_dims=1, max_dims=3, max_side=3), distinct=True, margin=0.02),
       data=st.data(), keepdim=st.booleans())
def test_max_min_dim(device, op, np_op, np_arg, x, data, keepdim):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check_op(lambda x: op(x, dim, keepdim), x, device=device,
             reference=lambda x: (np_op(x, axis=dim, keepdims=keepdim),
                                  np_arg(x, axis=dim, keepdims=keepdim)))


@pytest.mark.parametrize("op, np_op", [(minigan.max, np.max), (minigan.min, np.min)])
@given(x=float_arrays(SMALL, distinct=True, margin=0.02))
def test_max_min_all(device, op, np_op, x):
    check_op(op, x, device=device, reference=np_op)


# ---- shape ops ----
@given(float_arrays(SMALL), st.data())
def test_reshape_view_flatten(device, x, data):
    target = list(data.draw(st.permutations(x.shape)))
    if target:
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    check_op(lambda x: x.reshape(*target), x, device=device, reference=lambda x: x.reshape(target))
    check_op(lambda x: x.view(target), x, device=device, reference=lambda x: x.reshape(target))
    check_op(lambda x: x.flatten(), x, device=device, reference=lambda x: x.reshape(-1))
    if x.ndim >= 2:
        check_op(lambda x: x.flatten(1), x, device=device,
                 reference=lambda x: x.reshape(x.shape[0], -1))


@given(float_arrays(shapes(max_dims=4, max_side=3)), st.data())
def test_permute_transpose_T(device, x, data):
    order = data.draw(st.permutations(range(x.ndim)))
    check_op(lambda x: x.permute(*order), x, device=device,
             reference=lambda x: x.transpose(order))
    check_op(lambda x: x.T, x, device=device, reference=lambda x: x.T)
    if x.ndim >= 2:
        d0, d1 = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2))
        check_op(lambda x: x.transpose(d0, d1), x, device=device,
                 reference=lambda x: np.swapaxes(x, d0, d1))


@given(float_arrays(shapes(max_dims=3, max_side=2)), st.data())
def test_unsqueeze_squeeze(device, x, data):
    dim = data.draw(st.integers(-x.ndim - 1, x.ndim))
    check_op(lambda x: x.unsqueeze(dim), x, device=device,
             reference=lambda x: np.expand_dims(x, dim))
    check_op(lambda x: x.squeeze(), x, device=device, reference=np.squeeze)
    if x.ndim:
        d = data.draw(st.integers(-x.ndim, x.ndim - 1))
        squeezed = (lambda x: np.squeeze(x, d)) if x.shape[d] == 1 else (lambda x: x)
        check_op(lambda x: x.squeeze(d), x, device=device, reference=squeezed)


@given(broadcastable_shapes(max_dims=3, max_side=3), st.data())
def test_expand(device, shapes_ab, data):
    x = data.draw(float_arrays(shapes_ab[0]))
    target = list(np.broadcast_shapes(*shapes_ab))
    lead = len(target) - x.ndim
    spelled = list(target)
    for i in range(lead, len(target)):
        if data.draw(st.booleans()):
            spelled[i], target[i] = -1, x.shape[i - lead]   # -1 keeps x's size
    check_op(lambda x: x.expand(*spelled), x, device=device,
             reference=lambda x: np.broadcast_to(x, target))


# ---- indexing ----
@st.composite
def basic_index(draw, shape):
    """A tuple of ints (maybe negative) and slices (maybe stepped), one per leading dim."""
    key = []
    for side in shape[:draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            key.append(draw(st.integers(-side, side - 1)))
        else:
            key.append(slice(draw(st.none() | st.integers(-side, side)),
                             draw(st.none() | st.integers(-side, side)),
                             draw(st.sampled_from([None, 1, 2, -1]))))
    return tuple(key)


@given(float_arrays(shapes(min_dims=1, max_dims=3, max_side=4)), st.data())
def test_getitem_ints_and_slices(device, x, data):
    key = data.draw(basic_index(x.shape))
    check_op(lambda x: x[key], x, device=device, reference=lambda x: x[key])
    check_op(lambda x: x[..., 0], x, device=device, reference=lambda x: x[..., 0])


@given(float_arrays(shapes(min_dims=1, max_dims=3, max_side=3)), st.data())
def test_getitem_int_array_with_repeats(device, x, data):
    index = np.array(data.draw(st.lists(st.integers(-x.shape[0], x.shape[0] - 1),
                                        min_size=1, max_size=6)) + [0, 0])
    check_op(lambda x, i: x[i], x, index, device=device, reference=lambda x, i: x[i])
    check_op(lambda x: x[index.tolist()], x, device=device, reference=lambda x: x[index])


# ---- joining ----
@st.composite
def arrays_to_join(draw, same_shape):
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        if not same_shape:
            s[dim] = draw(st.integers(1, 3))
        arrays.append(draw(float_arrays(tuple(s))))
    return arrays, dim


@given(arrays_to_join(same_shape=False))
def test_cat(device, xs_dim):
    xs, dim = xs_dim
    check_op(lambda *xs: minigan.cat(xs, dim), *xs, device=device,
             reference=lambda *xs: np.concatenate(xs, dim))


@given(arrays_to_join(same_shape=True), st.data())
def test_stack(device, xs_dim, data):
    xs, _ = xs_dim
    dim = data.draw(st.integers(-xs[0].ndim - 1, xs[0].ndim))
    check_op(lambda *xs: minigan.stack(xs, dim), *xs, device=device,
             reference=lambda *xs: np.stack(xs, dim))


@given(pairs(), st.data())
def test_where(device, ab, data):
    a, b = ab
    cond = data.draw(st.sampled_from([a.shape, b.shape]).flatmap(
        lambda s: st.lists(st.booleans(), min_size=int(np.prod(s)), max_size=int(np.prod(s)))
        .map(lambda v: np.array(v, dtype=bool).reshape(s))))
    check_op(minigan.where, cond, a, b, device=device, reference=np.where)


# ---- activations ----
@given(float_arrays(SMALL, away_from=[0]))
def test_relu(device, x):
    check_op(F.relu, x, device=device, reference=lambda x: np.maximum(x, 0))


@given(float_arrays(SMALL, away_from=[0]))
def test_leaky_relu(device, x):
    check_op(F.leaky_relu, x, device=device, reference=lambda x: np.where(x > 0, x, 0.01 * x))
    check_op(lambda x: F.leaky_relu(x, 0.2), x, device=device,
             reference=lambda x: np.where(x > 0, x, 0.2 * x))
    for slope in (-0.5, 1.5):   # outside [0, 1]: max(x, slope·x) no longer holds
        check_op(lambda x: F.leaky_relu(x, slope), x, device=device,
                 reference=lambda x: np.where(x > 0, x, slope * x))


@given(float_arrays(SMALL, min_value=-4, max_value=4))
def test_tanh(device, x):
    check_op(minigan.tanh, x, device=device, reference=np.tanh)


@given(float_arrays(SMALL, min_value=-6, max_value=6))
def test_sigmoid(device, x):
    check_op(minigan.sigmoid, x, device=device, reference=sigmoid_np)


@pytest.mark.parametrize("dtype", [minigan.float64, minigan.float32])
def test_sigmoid_keeps_its_relative_accuracy_where_it_is_tiny(device, dtype):
    """σ(x) = e^x / (1 + e^x) for x < 0: (1 + tanh(x/2)) / 2 would give 0 from -38 in
    float64 (and be 35% off at -37), from -20 in float32; and nothing overflows at ±1000.
    BCE's gradient uses the same σ."""
    xs = [-1000.0, -100.0, -40.0, -37.0, -20.0, 0.0, 20.0, 1000.0]
    exact = np.array([math.exp(x) / (1 + math.exp(x)) if x < 0 else 1 / (1 + math.exp(-x))
                      for x in xs])
    x = minigan.tensor(xs, dtype=dtype, device=device)
    t = minigan.zeros(len(xs), dtype=dtype, device=device)
    x.requires_grad_()
    F.binary_cross_entropy_with_logits(x, t, reduction="sum").backward()   # gx = σ(x) - 0
    # below the smallest normal number a GPU build flushes to 0: judged in absolute terms there
    tiny = np.finfo(np.float32 if dtype == minigan.float32 else np.float64).tiny
    rtol = 2e-6 if dtype == minigan.float32 else 4e-15
    for y in (minigan.sigmoid(x), x.grad):
        got = y.detach().cpu().numpy().astype(np.float64)
        np.testing.assert_allclose(got, exact, rtol=rtol, atol=tiny)


@given(float_arrays(SMALL, min_value=-6, max_value=6))
def test_softplus(device, x):
    check_op(F.softplus, x, device=device, reference=softplus_np)
    check_op(lambda x: F.softplus(x, beta=2), x, device=device,
             reference=lambda x: softplus_np(2 * x) / 2)


@given(float_arrays(SMALL, min_value=-6, max_value=6))
def test_logsigmoid(device, x):
    check_op(F.logsigmoid, x, device=device, reference=lambda x: -softplus_np(-x))


# ---- the strategies themselves (minigan.testing) ----
@given(broadcastable_shapes(), float_arrays(shapes(max_side=3), away_from=[0, 1], margin=0.1),
       float_arrays((4, 5), distinct=True, margin=0.05))
def test_testing_strategies_keep_their_promises(shapes_ab, x, d):
    np.broadcast_shapes(*shapes_ab)
    assert np.all(np.abs(x) >= 0.1) and np.all(np.abs(x - 1) >= 0.1) and np.all(np.abs(x) <= 2)
    gaps = np.diff(np.sort(d.ravel()))
    assert gaps.min() >= 0.05 - 1e-12
