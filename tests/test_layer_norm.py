"""F.layer_norm and nn.LayerNorm: forward against NumPy, gradients to second order, on
every device; one gradient op with or without create_graph; bad shapes are named."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from helpers import check_op
from minigan import nn
from minigan.testing import float_arrays


def ln_np(x, k, gamma=1.0, beta=0.0, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


@st.composite
def ln_input(draw):
    """(x, k): x of 1-4 dims whose last k (1-3) are normalized, no row flat."""
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    normalized = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    assume(np.prod(normalized) > 1)
    x = draw(float_arrays(tuple(lead + normalized)))
    k = len(normalized)
    rows = x.reshape(-1, int(np.prod(normalized)))
    assume(rows.var(axis=1).min() > 0.05)   # a flat row makes 1/σ huge
    return x, k


@given(ln_input(), st.data())
def test_layer_norm_with_weight_and_bias(device, xk, data):
    x, k = xk
    shape = x.shape[x.ndim - k:]
    gamma = data.draw(float_arrays(shape, min_value=0.5, max_value=2))
    beta = data.draw(float_arrays(shape))
    check_op(lambda x, g, b: F.layer_norm(x, shape, g, b), x, gamma, beta, device=device,
             atol=1e-9, reference=lambda x, g, b: ln_np(x, k, g, b))


@given(ln_input())
def test_layer_norm_without_affine(device, xk):
    x, k = xk
    shape = x.shape[x.ndim - k:]
    check_op(lambda x: F.layer_norm(x, shape, eps=1e-3), x, device=device, atol=1e-9,
             reference=lambda x: ln_np(x, k, eps=1e-3))


def test_int_normalized_shape_is_the_last_axis(device):
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    check_op(lambda x: F.layer_norm(x, 5), x, device=device, atol=1e-9,
             reference=lambda x: ln_np(x, 1))


def test_gradient_is_the_same_op_with_and_without_create_graph(device):
    """One gradient op (LayerNormGrad): recorded under create_graph, the same numbers."""
    rng = np.random.default_rng(1)
    x, gamma, beta, v = (rng.standard_normal(s) for s in ((4, 3, 2, 2), (3, 2, 2), (3, 2, 2),
                                                          (4, 3, 2, 2)))
    results = []
    for create_graph in (False, True):
        inputs = [minigan.tensor(a, device=device, requires_grad=True) for a in (x, gamma, beta)]
        y = F.layer_norm(inputs[0], (3, 2, 2), inputs[1], inputs[2])
        gs = minigan.grad(y, inputs, minigan.tensor(v, device=device), create_graph=create_graph)
        assert [g.requires_grad for g in gs] == [create_graph] * 3
        results.append([g.cpu().numpy() for g in gs])
    for plain, recorded in zip(*results):
        np.testing.assert_array_equal(plain, recorded)
    # the rows of gx sum to 0: shifting a row does not change its normalized value
    np.testing.assert_allclose(results[0][0].sum(axis=(1, 2, 3)), 0, atol=1e-12)


def test_float32_stays_float32(device):
    x = minigan.randn(3, 8, device=device, requires_grad=True)
    ln = nn.LayerNorm(8).to(device)
    y = ln(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == ln.weight.grad.dtype == np.float32
    np.testing.assert_allclose(y.cpu().numpy(), ln_np(x.cpu().numpy(), 1), atol=1e-5)


def test_bad_shapes_name_the_op_and_the_shapes():
    x = minigan.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4, 3\) does not "
                                         r"match the last 2 dimensions of the input of "
                                         r"shape \(2, 3, 4\)"):
        F.layer_norm(x, (4, 3))
    with pytest.raises(ValueError, match=r"normalized_shape \(1, 2, 3, 4\)"):
        F.layer_norm(x, (1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"normalized_shape \(\)"):
        F.layer_norm(x, ())
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\), expected the "
                                         r"normalized_shape \(4,\)"):
        F.layer_norm(x, 4, minigan.ones(3))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(5,\)"):
        nn.LayerNorm(5)(x)


def test_module_parameters_state_dict_and_repr():
    ln = nn.LayerNorm([3, 4], eps=1e-6)
    assert [(name, tuple(p.shape)) for name, p in ln.named_parameters()] == [
        ("weight", (3, 4)), ("bias", (3, 4))]
    assert np.all(ln.weight.numpy() == 1) and np.all(ln.bias.numpy() == 0)
    assert repr(ln) == "LayerNorm((3, 4), eps=1e-06, elementwise_affine=True)"
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    other = nn.LayerNorm([3, 4], eps=1e-6)
    ln.weight.data[...] = 2
    other.load_state_dict(ln.state_dict())
    x = minigan.randn(2, 3, 4)
    np.testing.assert_array_equal(other(x).numpy(), ln(x).numpy())


def test_module_gradients_reach_weight_and_bias():
    ln = nn.LayerNorm(3).double()
    x = minigan.tensor(np.array([[1.0, 2.0, 4.0], [0.0, -1.0, 3.0]]), requires_grad=True)
    (ln(x) * minigan.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    x_hat = ln_np(x.numpy(), 1)
    np.testing.assert_allclose(ln.weight.grad.numpy(), x_hat.sum(0) * [1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(ln.bias.grad.numpy(), [2.0, 4.0, 6.0])
