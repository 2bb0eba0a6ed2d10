"""The closed form of the normalizations' double backward (``_double_backward``), derived on
docs/08-second-derivatives.md, against finite differences of the first backward in NumPy,
and minigan's second derivatives against that closed form, on every device.

gradgradcheck (tests/test_layer_ops.py, tests/test_layer_norm.py) checks the second
derivatives only along the cotangents it draws; this compares every element of g(x), g(γ)
and g(gy) with the formula, so the page's derivation and the code are held to each other.
"""
import numpy as np
import pytest

import minigan
import minigan.functional as F

RNG = np.random.default_rng(8)
EPS = 1e-5


def first_backward(x, gamma, gy, axes, rows):
    """(gx, gγ, gβ) in NumPy: gx = s P(γ gy), gγ = Σ_rows gy x̂, gβ = Σ_rows gy."""
    s = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + EPS)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) * s
    g = gamma * gy
    gx = s * (g - g.mean(axis=axes, keepdims=True)
              - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
    return gx, (gy * x_hat).sum(axis=rows, keepdims=True), gy.sum(axis=rows, keepdims=True)


def closed_form(x, gamma, gy, ggx, gggamma, ggbeta, axes, rows):
    """(g(x), g(γ), g(gy)), the page's three results; ⟨·⟩ is the mean over ``axes``."""
    def avg(v):
        return v.mean(axis=axes, keepdims=True)

    s = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + EPS)
    x_hat = (x - avg(x)) * s

    def P(v):
        return v - avg(v) - x_hat * avg(v * x_hat)

    g = gamma * gy
    g_x = s * P(gggamma * gy) - s ** 2 * (x_hat * avg(ggx * P(g)) + avg(g * x_hat) * P(ggx)
                                          + avg(ggx * x_hat) * P(g))
    g_gamma = (gy * s * P(ggx)).sum(axis=rows, keepdims=True)
    g_gy = gamma * s * P(ggx) + x_hat * gggamma + ggbeta
    return g_x, g_gamma, g_gy


def central_differences(f, a, h=1e-6):
    out = np.zeros_like(a)
    for i in np.ndindex(*a.shape):
        d = np.zeros_like(a)
        d[i] = h
        out[i] = (f(a + d) - f(a - d)) / (2 * h)
    return out


CASES = {   # x's shape, the normalized axes, the axes γ is summed over (rows)
    "batch_norm (N, C)": ((5, 3), (0,), (0,)),
    "batch_norm (N, C, H, W)": ((3, 2, 2, 3), (0, 2, 3), (0, 2, 3)),
    "layer_norm over (C, W)": ((3, 2, 4), (1, 2), (0,)),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_double_backward_is_the_closed_form(device, case):
    shape, axes, rows = CASES[case]
    batch = case.startswith("batch_norm")
    pshape = tuple(1 if i in rows else n for i, n in enumerate(shape))   # γ, broadcastable
    x, gy, ggx = (RNG.standard_normal(shape) * 1.5 + 0.5 for _ in range(3))
    gamma = RNG.uniform(0.5, 2, pshape)
    gggamma, ggbeta = RNG.standard_normal(pshape), RNG.standard_normal(pshape)

    # the closed form against finite differences of L = Σ ggx gx + ggγ gγ + ggβ gβ
    def L(x, gamma, gy):
        gx, ggamma, gbeta = first_backward(x, gamma, gy, axes, rows)
        return (ggx * gx).sum() + (gggamma * ggamma).sum() + (ggbeta * gbeta).sum()

    expected = closed_form(x, gamma, gy, ggx, gggamma, ggbeta, axes, rows)
    numeric = (central_differences(lambda v: L(v, gamma, gy), x),
               central_differences(lambda v: L(x, v, gy), gamma),
               central_differences(lambda v: L(x, gamma, v), gy))
    for e, n in zip(expected, numeric):
        np.testing.assert_allclose(e, n, atol=1e-7, rtol=1e-6)

    # minigan's double backward against the closed form
    flat = (lambda a: a.reshape(shape[1])) if batch else (lambda a: a.reshape(shape[1:]))
    t = {k: minigan.tensor(v, device=device, requires_grad=True)
         for k, v in dict(x=x, gy=gy, gamma=flat(gamma), beta=flat(np.zeros(pshape))).items()}
    y = (F.batch_norm(t["x"], None, None, t["gamma"], t["beta"], training=True) if batch
         else F.layer_norm(t["x"], shape[1:], t["gamma"], t["beta"]))
    first = minigan.grad(y, [t["x"], t["gamma"], t["beta"]], t["gy"], create_graph=True)
    assert type(first[0].grad_fn).__name__ == ("BatchNormGrad" if batch else "LayerNormGrad")
    cotangents = [minigan.tensor(v, device=device) for v in (ggx, flat(gggamma), flat(ggbeta))]
    got = minigan.grad(list(first), [t["x"], t["gamma"], t["gy"]], cotangents)
    for g, e in zip(got, (expected[0], flat(expected[1]), expected[2])):
        np.testing.assert_allclose(g.cpu().numpy(), e, atol=1e-10, rtol=1e-9)
