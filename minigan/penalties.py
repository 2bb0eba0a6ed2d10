"""Gradient penalties: terms of a critic's loss built from its own input gradient.

Both differentiate a gradient, so they run the backward with ``create_graph=True``
and the loss's backward then goes through that backward (second derivatives):

    WGAN-GP (Gulrajani et al., 2017)   λ · E[(‖∇ D(x̂)‖₂ - 1)²],
        x̂ = ε x + (1 - ε) x̃ between a real x and a fake x̃, ε ~ U[0, 1] per sample
    R1 (Mescheder et al., 2018)        γ/2 · E[‖∇ D(x)‖₂²] on real x

The gradients are per sample: D's score for sample i differentiated by sample i.
Summing the scores before differentiating gives exactly that when samples do not
interact inside D (no BatchNorm: hence LayerNorm in WGAN critics). Like any
``minigan.grad`` with create_graph, they need grad mode on (not under no_grad).
"""
from .autograd import grad
from .random import rand


def input_gradient(scores, x):
    """∇ₓ Σ scores, itself differentiable (``create_graph=True``); x must require grad."""
    (gx,) = grad(scores.sum(), x, create_graph=True)
    return gx


def squared_gradient_norms(scores, x):
    """‖∇ₓ D(x)‖₂² per sample, shape (N,), from the scores D(x) of a batch x."""
    gx = input_gradient(scores, x).reshape(x.shape[0], -1)   # (N, C, H, W) -> (N, C·H·W)
    return (gx * gx).sum(dim=1)


def interpolate(real, fake):
    """x̂ = ε real + (1 - ε) fake, ε ~ U[0, 1] per sample from minigan's generator;
    a new leaf that requires grad (neither input is differentiated)."""
    n = real.shape[0]
    eps = rand(n, *(1,) * (real.ndim - 1), dtype=real.dtype, device=real.device)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return x_hat.requires_grad_(True)


def gradient_penalty(critic, real, fake, lambda_=10.0):
    """WGAN-GP's λ · E[(‖∇ critic(x̂)‖₂ - 1)²] at random interpolates x̂ of real and fake."""
    x_hat = interpolate(real, fake)
    # NOTE: √ has an infinite slope at 0; the 1e-12 keeps a sample whose gradient
    # vanishes exactly from turning the whole step into NaN.
    norms = (squared_gradient_norms(critic(x_hat), x_hat) + 1e-12).sqrt()
    return lambda_ * ((norms - 1) ** 2).mean()


def r1_penalty(discriminator, real, gamma):
    """R1's γ/2 · E[‖∇ D(x)‖₂²] on the real batch x.

    Runs D on ``real`` once more; a loop that already has D(x) for an x with
    requires_grad can use ``gamma / 2 * squared_gradient_norms(d_real, x).mean()``.
    """
    x = real.detach().requires_grad_(True)
    return gamma / 2 * squared_gradient_norms(discriminator(x), x).mean()
