"""Gradient penalties (minigan.penalties) and the critics they train.

- gradgradcheck, float64, through every layer of both critics: the WGAN-GP critic
  (conv2d, leaky_relu, layer_norm) and the DCGAN discriminator R1 uses (conv2d,
  batch_norm, leaky_relu), as small functional chains and as the real models;
- closed forms: for a linear critic D(x) = ⟨w, x⟩ + b the input gradient is w for
  every sample, so WGAN-GP = λ(‖w‖ - 1)² and R1 = γ/2 ‖w‖², with gradients
  2λ(‖w‖ - 1) w/‖w‖ and γ w;
- the penalty's own gradient against finite differences, end to end.
Every test runs on every device; the gradgradchecks of a critic's layers and of the models,
thousands of launches, run on the emulated GPU in the slow set (the kernels' own second
derivatives are checked in the quick run: tests/test_kernels.py).
"""
import numpy as np
import pytest

import minigan
import minigan.functional as F
from helpers import SLOW_ON_THE_EMULATOR, check_op
from minigan import models, nn
from minigan.autograd import gradcheck, gradgradcheck
from minigan.penalties import (gradient_penalty, interpolate, r1_penalty,
                               squared_gradient_norms)

# NOTE: not seed 0: gradcheck draws its cotangents from default_rng(0), and an input equal to
# its cotangent hides errors here (LayerNorm makes the critic scale-invariant, so along u = x
# the second derivative follows from the first).
RNG = np.random.default_rng(2024)


def arrays(*shapes, scale=0.5):
    return [scale * RNG.standard_normal(s) for s in shapes]


# ---- second derivatives through every layer of both critics ----

def wgan_critic_fn(x, W1, W2, gamma, beta, W3):
    """WGANCritic's layers at toy size: (2, 1, 8, 8) -> 4x4 -> 2x2 -> (2, 1)."""
    h = F.leaky_relu(F.conv2d(x, W1, stride=2, padding=1), 0.2)
    h = F.conv2d(h, W2, stride=2, padding=1)
    h = F.leaky_relu(F.layer_norm(h, h.shape[1:], gamma, beta), 0.2)
    return F.conv2d(h, W3).reshape(x.shape[0], 1)


def dcgan_discriminator_fn(x, W1, W2, gamma, beta, W3):
    """DCGANDiscriminator's layers at toy size, BatchNorm in training mode."""
    h = F.leaky_relu(F.conv2d(x, W1, stride=2, padding=1), 0.2)
    h = F.conv2d(h, W2, stride=2, padding=1)
    h = F.leaky_relu(F.batch_norm(h, None, None, gamma, beta, training=True), 0.2)
    return F.conv2d(h, W3).reshape(x.shape[0], 1)


@pytest.mark.parametrize("device", SLOW_ON_THE_EMULATOR, indirect=True)
def test_gradgradcheck_wgan_critic_layers(device):
    x, W1, W2, W3 = arrays((2, 1, 8, 8), (2, 1, 4, 4), (3, 2, 4, 4), (1, 3, 2, 2), scale=1.0)
    gamma, beta = 1 + 0.3 * RNG.standard_normal((3, 2, 2)), 0.3 * RNG.standard_normal((3, 2, 2))
    check_op(wgan_critic_fn, x, W1, W2, gamma, beta, W3, device=device)


@pytest.mark.parametrize("device", SLOW_ON_THE_EMULATOR, indirect=True)
def test_gradgradcheck_dcgan_discriminator_layers(device):
    x, W1, W2, W3 = arrays((2, 1, 8, 8), (2, 1, 4, 4), (3, 2, 4, 4), (1, 3, 2, 2), scale=1.0)
    gamma, beta = 1 + 0.3 * RNG.standard_normal(3), 0.3 * RNG.standard_normal(3)
    check_op(dcgan_discriminator_fn, x, W1, W2, gamma, beta, W3, device=device)


@pytest.mark.parametrize("make,shape", [
    (lambda: models.WGANCritic(28, ndf=2), (2, 1, 28, 28)),
    (lambda: models.WGANCritic(64, ndf=2), (2, 3, 64, 64)),
    (lambda: models.DCGANDiscriminator(28, ndf=2), (2, 1, 28, 28))],
    ids=["wgan28", "wgan64", "dcgan28"])
@pytest.mark.parametrize("device", SLOW_ON_THE_EMULATOR, indirect=True)
def test_gradgradcheck_of_the_models_input_gradient(device, make, shape):
    """What a penalty differentiates: x ↦ ∇ₓ D(x), along random directions."""
    minigan.manual_seed(0)
    D = make().double().to(device)
    for p in D.parameters():   # DCGAN's N(0, 0.02) leaves gradients too small for a relative check
        p.data *= 25
    # NOTE: its own generator, so every device sees the same x: a rare x puts a LeakyReLU kink
    # within the finite-difference step, and which x a shared generator gives depends on order
    x = np.random.default_rng(11).standard_normal(shape)
    assert gradgradcheck(D, [minigan.tensor(x, device=device, requires_grad=True)])


# ---- closed forms for a linear critic ----

def linear_critic(w, b):
    """D(x) = ⟨w, x⟩ + b per sample; ∇ₓD = w, whatever x is."""
    return lambda x: F.linear(x.reshape(x.shape[0], -1), w, b)


@pytest.mark.parametrize("norm", [0.5, 1.0, 2.0])
def test_gradient_penalty_of_a_linear_critic_is_the_closed_form(device, norm):
    w0 = RNG.standard_normal((1, 12))
    w0 *= norm / np.linalg.norm(w0)
    w = minigan.tensor(w0, device=device, requires_grad=True)
    b = minigan.tensor(np.array([0.3]), device=device, requires_grad=True)
    real = minigan.tensor(RNG.standard_normal((5, 3, 2, 2)), device=device)
    fake = minigan.tensor(RNG.standard_normal((5, 3, 2, 2)), device=device)
    gp = gradient_penalty(linear_critic(w, b), real, fake, lambda_=10.0)
    np.testing.assert_allclose(gp.item(), 10 * (norm - 1) ** 2, rtol=1e-10, atol=1e-10)
    gw, = minigan.grad(gp, w)   # b does not reach the input gradient
    np.testing.assert_allclose(gw.cpu().numpy(), 2 * 10 * (norm - 1) * w0 / norm, atol=1e-10)


def test_r1_of_a_linear_discriminator_is_the_closed_form(device):
    w0 = RNG.standard_normal((1, 12))
    w = minigan.tensor(w0, device=device, requires_grad=True)
    b = minigan.tensor(np.array([-1.0]), device=device, requires_grad=True)
    real = minigan.tensor(RNG.standard_normal((4, 3, 2, 2)), device=device)
    r1 = r1_penalty(linear_critic(w, b), real, gamma=3.0)
    np.testing.assert_allclose(r1.item(), 3.0 / 2 * (w0 ** 2).sum(), rtol=1e-12)
    r1.backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), 3.0 * w0, rtol=1e-12)
    assert b.grad is None and not real.requires_grad


def test_squared_gradient_norms_of_a_quadratic_critic(device):
    """D(x) = ½‖x‖² per sample: ∇D(x) = x, so the norms are ‖x‖² of each sample."""
    x0 = RNG.standard_normal((3, 2, 2, 2))
    x = minigan.tensor(x0, device=device, requires_grad=True)
    norms = squared_gradient_norms(0.5 * (x * x).sum(dim=(1, 2, 3)), x)
    np.testing.assert_allclose(norms.cpu().numpy(), (x0 ** 2).sum(axis=(1, 2, 3)), rtol=1e-12)


def test_interpolates_lie_between_real_and_fake_with_one_eps_per_sample(device):
    real = minigan.tensor(RNG.standard_normal((6, 2, 3, 3)), device=device, requires_grad=True)
    fake = minigan.tensor(RNG.standard_normal((6, 2, 3, 3)), device=device, requires_grad=True)
    x_hat = interpolate(real, fake)
    assert x_hat.is_leaf and x_hat.requires_grad
    r, f, h = (t.detach().cpu().numpy() for t in (real, fake, x_hat))
    eps = ((h - f) / (r - f)).reshape(6, -1)
    np.testing.assert_allclose(eps, eps[:, :1] * np.ones_like(eps), atol=1e-9)
    assert np.all((0 <= eps) & (eps <= 1)) and len(np.unique(eps[:, 0].round(9))) == 6


# ---- the penalty's gradient, end to end ----

def test_gradient_penalty_gradient_matches_finite_differences(device):
    """∂ GP / ∂ parameters of a WGAN-style critic: the double backward against numbers."""
    x_real, x_fake = (minigan.tensor(a, device=device) for a in
                      arrays((2, 1, 8, 8), (2, 1, 8, 8), scale=1.0))
    params = [minigan.tensor(a, device=device, requires_grad=True) for a in
              arrays((2, 1, 4, 4), (3, 2, 4, 4), scale=1.0)
              + [1 + 0.3 * RNG.standard_normal((3, 2, 2)), 0.3 * RNG.standard_normal((3, 2, 2))]
              + arrays((1, 3, 2, 2), scale=1.0)]

    def penalty(*params):
        minigan.manual_seed(7)   # the same ε for every evaluation
        with minigan.enable_grad():   # gradcheck's first call is under no_grad
            return gradient_penalty(lambda x: wgan_critic_fn(x, *params), x_real, x_fake)

    assert gradcheck(penalty, params)


def test_wgan_gp_steps_reduce_the_penalty_of_a_steep_critic():
    minigan.manual_seed(0)
    D = models.WGANCritic(28, ndf=4)
    for p in D.parameters():
        p.data *= 30   # ‖∇D‖ ≫ 1
    # NOTE: at lr 1e-3 six steps move the penalty less than its noise (a fresh ε each step):
    # the test passed or failed by the seed's stream; at 3e-2 it halves for every seed tried
    opt = minigan.optim.Adam(D.parameters(), lr=3e-2, betas=(0.0, 0.9))
    real, fake = minigan.rand(8, 1, 28, 28) * 2 - 1, minigan.rand(8, 1, 28, 28) * 2 - 1
    penalties = []
    for _ in range(6):
        gp = gradient_penalty(D, real, fake)
        opt.zero_grad()
        gp.backward()
        opt.step()
        penalties.append(gp.item())
    assert np.isfinite(penalties).all() and penalties[-1] < penalties[0] / 2


# ---- the critic ----

def test_wgan_critics_are_dcgan_without_batchnorm():
    def convs(m):
        return [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0])
                for c in m.modules() if isinstance(c, nn.Conv2d)]
    D28, D64 = models.WGANCritic(28), models.WGANCritic(64)
    assert convs(D28) == [(1, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, 1, 7, 1, 0)]
    assert convs(D64) == convs(models.DCGANDiscriminator(64))
    assert [m.normalized_shape for m in D28.modules() if isinstance(m, nn.LayerNorm)] == [
        (128, 7, 7)]
    assert [m.normalized_shape for m in D64.modules() if isinstance(m, nn.LayerNorm)] == [
        (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    for D in (D28, D64, models.WGANCritic(28, norm="none")):
        assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
        assert all(m.bias is None for m in D.modules() if isinstance(m, nn.Conv2d))
    plain = models.WGANCritic(28, norm="none")
    assert not any(isinstance(m, nn.LayerNorm) for m in plain.modules())
    assert D28(minigan.randn(3, 1, 28, 28)).shape == (3, 1)
    with pytest.raises(ValueError, match="norm must be one of"):
        models.WGANCritic(28, norm="batch")


def test_r1_on_the_dcgan_discriminator_reaches_every_weight(device):
    """BatchNorm's bias only moves LeakyReLU's kink, so ∇ₓD, and R1, do not depend on it."""
    minigan.manual_seed(0)
    D = models.DCGANDiscriminator(28, ndf=4).to(device)
    r1 = r1_penalty(D, minigan.rand(4, 1, 28, 28, device=device) * 2 - 1, gamma=10.0)
    r1.backward()
    assert np.isfinite(r1.item()) and r1.item() > 0
    for name, p in D.named_parameters():
        if name.endswith("weight"):
            assert np.abs(p.grad.cpu().numpy()).max() > 0, name
