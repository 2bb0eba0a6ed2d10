"""The benchmark's steps in minigan; torch_steps.py builds the same ones in PyTorch.

``build(case, batch, device)`` returns ``(step, sync, events)``: the step (models,
optimizers and data made once), a function that waits for the device, and the CUDA events
(None on a CPU). gan_step.py's docstring says what each case's step is.
"""
import types

import numpy as np

import minigan
import minigan.functional as F
from minigan import backend, models, threads
from minigan.penalties import gradient_penalty

LAMBDA, LR, BETAS = 10.0, 1e-4, (0.0, 0.9)   # WGAN-GP, as in the paper


def setup(threads):
    """fp32 GEMMs, as PyTorch's here, and minigan's CPU work on ``threads`` threads (as
    torch.set_num_threads; gan_step.worker also sets OPENBLAS_NUM_THREADS before NumPy loads)."""
    minigan.cuda.matmul.allow_tf32 = False
    minigan.set_num_threads(threads)


def build(case, batch, device, graph=False):
    """(step, sync, events) of one case; with ``graph`` the GAN step is captured once as a
    CUDA graph and replayed (minigan.cuda.CapturedStep)."""
    if graph and case.startswith("wgan"):
        raise ValueError("--graph: the GAN cases only")
    make = wgan_step if case.startswith("wgan") else gan_step
    step = make(case, batch, device, graph) if graph else make(case, batch, device)

    def sync():
        if device == "cuda":
            backend.cupy.cuda.runtime.deviceSynchronize()
    return step, sync, events(device)


def events(device):
    """CUDA events: ``new()`` makes one, ``elapsed_ms(a, b)`` reads a pair; None on a CPU."""
    if device != "cuda":
        return None
    cuda = backend.cupy.cuda
    return types.SimpleNamespace(new=cuda.Event, elapsed_ms=cuda.get_elapsed_time)


def gan_models(case):
    if case == "mlp-gan":
        return models.MLPGenerator(), models.MLPDiscriminator(), (1, 28, 28)
    if case == "dcgan28":
        return models.DCGANGenerator(image_size=28), models.DCGANDiscriminator(image_size=28), (1, 28, 28)
    return models.DCGANGenerator(image_size=64), models.DCGANDiscriminator(image_size=64), (3, 64, 64)


def gan_step(case, batch, device, graph=False):
    minigan.manual_seed(0)
    G, D, shape = gan_models(case)
    G.to(device), D.to(device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = minigan.rand(batch, *shape, device=device) * 2 - 1
    ones = minigan.ones(batch, 1, device=device)
    zeros = minigan.zeros(batch, 1, device=device)
    nz = 100

    def noise():
        return [minigan.randn(batch, nz, device=device)]

    def step(z=None):
        z = noise()[0] if z is None else z
        if case != "mlp-gan":
            z = z.reshape(batch, nz, 1, 1)
        fake = G(z)
        loss_D = (F.binary_cross_entropy_with_logits(D(real).reshape(batch, 1), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()).reshape(batch, 1), zeros))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        loss_G = F.binary_cross_entropy_with_logits(D(fake).reshape(batch, 1), ones)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return {"loss_D": loss_D, "loss_G": loss_G}
    return minigan.cuda.CapturedStep(step, noise) if graph else step


def launches(step, device):
    """Our kernel launches in one step, as "kernels + GEMMs": the GEMMs (kernels/gemm.cu) apart
    from the others (a captured step: what it launches besides its graph)."""
    if device != "cuda":
        return None
    before = minigan.cuda.counts()   # (launches, of which GEMMs) so far
    step()
    launches, gemms = (now - then for now, then in zip(minigan.cuda.counts(), before))
    return f"{launches - gemms} + {gemms}"


def flops(step, device):
    """2 × the multiply-adds of every product in one step: every matmul, linear and conv
    product goes through ``minigan.threads.matmul`` (CPU only: None on a GPU)."""
    if device != "cpu":
        return None
    count, original = [0], threads.matmul

    def counting(a, b):
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        count[0] += 2 * int(np.prod(batch)) * a.shape[-2] * a.shape[-1] * b.shape[-1]
        return original(a, b)
    threads.matmul = counting
    try:
        step()
    finally:
        threads.matmul = original
    return count[0]


def image_shape(case):
    return (1, 28, 28) if case == "wgan28" else (3, 64, 64)


def wgan_step(case, batch, device):
    minigan.manual_seed(0)
    D = models.WGANCritic(image_size=28 if case == "wgan28" else 64).to(device)
    opt = minigan.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    real = minigan.rand(batch, *image_shape(case), device=device) * 2 - 1
    fake = minigan.rand(batch, *image_shape(case), device=device) * 2 - 1

    def step():
        loss = D(fake).mean() - D(real).mean() + gradient_penalty(D, real, fake, LAMBDA)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step
