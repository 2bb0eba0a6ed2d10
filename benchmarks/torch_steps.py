"""The benchmark's steps in PyTorch, layer for layer those of minigan_steps.py.

``build(case, batch, device)`` returns ``(step, sync, events)`` as minigan_steps.build does.
"""
import types

import torch
import torch.nn as tnn

LAMBDA, LR, BETAS = 10.0, 1e-4, (0.0, 0.9)   # WGAN-GP, as in the paper


def setup(threads):
    """PyTorch as the reference numbers were measured: ``threads`` CPU threads, fp32 (TF32 off)."""
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def build(case, batch, device, graph=False):
    """(step, sync, events) of one case; with ``graph`` the GAN step is a CUDA graph
    (torch.cuda.graphs: Adam(capturable=True), static noise, warmed up on a side stream)."""
    if graph and case.startswith("wgan"):
        raise ValueError("--graph: the GAN cases only")
    make = wgan_step if case.startswith("wgan") else gan_step
    step = make(case, batch, device, graph) if graph else make(case, batch, device)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
    return step, sync, events(device)


def events(device):
    """CUDA events: ``new()`` makes one, ``elapsed_ms(a, b)`` reads a pair; None on a CPU."""
    if device != "cuda":
        return None
    return types.SimpleNamespace(new=lambda: torch.cuda.Event(enable_timing=True),
                                 elapsed_ms=lambda a, b: a.elapsed_time(b))


def gan_models(case):
    if case == "mlp-gan":
        def block(i, o, bn=True):
            return [tnn.Linear(i, o)] + ([tnn.BatchNorm1d(o, 0.8)] if bn else []) + [tnn.LeakyReLU(0.2)]
        G = tnn.Sequential(*block(100, 128, False), *block(128, 256), *block(256, 512),
                           *block(512, 1024), tnn.Linear(1024, 784), tnn.Tanh(), tnn.Unflatten(1, (1, 28, 28)))
        D = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.LeakyReLU(0.2), tnn.Linear(512, 256),
                           tnn.LeakyReLU(0.2), tnn.Linear(256, 1))
        return G, D, (1, 28, 28)
    if case == "dcgan28":
        G = tnn.Sequential(
            tnn.ConvTranspose2d(100, 256, 7, 1, 0, bias=False), tnn.BatchNorm2d(256), tnn.ReLU(),
            tnn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.ReLU(),
            tnn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), tnn.Tanh())
        D = tnn.Sequential(
            tnn.Conv2d(1, 64, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2),
            tnn.Conv2d(64, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.LeakyReLU(0.2),
            tnn.Conv2d(128, 1, 7, 1, 0, bias=False))
        return G, D, (1, 28, 28)
    G = tnn.Sequential(
        tnn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False), tnn.BatchNorm2d(512), tnn.ReLU(),
        tnn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False), tnn.BatchNorm2d(256), tnn.ReLU(),
        tnn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.ReLU(),
        tnn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(),
        tnn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), tnn.Tanh())
    D = tnn.Sequential(
        tnn.Conv2d(3, 64, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2),
        tnn.Conv2d(64, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.LeakyReLU(0.2),
        tnn.Conv2d(128, 256, 4, 2, 1, bias=False), tnn.BatchNorm2d(256), tnn.LeakyReLU(0.2),
        tnn.Conv2d(256, 512, 4, 2, 1, bias=False), tnn.BatchNorm2d(512), tnn.LeakyReLU(0.2),
        tnn.Conv2d(512, 1, 4, 1, 0, bias=False))
    return G, D, (3, 64, 64)


def gan_step(case, batch, device, graph=False):
    torch.manual_seed(0)
    G, D, shape = gan_models(case)
    G.to(device), D.to(device)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), capturable=graph)
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), capturable=graph)
    real = torch.rand(batch, *shape, device=device) * 2 - 1
    ones = torch.ones(batch, 1, device=device)
    zeros = torch.zeros(batch, 1, device=device)
    bce = tnn.functional.binary_cross_entropy_with_logits

    def step(z=None):
        z = torch.randn(batch, 100, device=device) if z is None else z
        if case != "mlp-gan":
            z = z.reshape(batch, 100, 1, 1)
        fake = G(z)
        loss_D = bce(D(real).reshape(batch, 1), ones) + bce(D(fake.detach()).reshape(batch, 1), zeros)
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        loss_G = bce(D(fake).reshape(batch, 1), ones)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return loss_D, loss_G
    return captured(step, batch, device) if graph else step


def captured(step, batch, device):
    """``step`` as a CUDA graph, as torch.cuda.graphs documents it: warm up on a side
    stream, capture once with the noise in a static tensor, then a step is a fresh noise
    copied in and one replay."""
    z = torch.randn(batch, 100, device=device)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step(z)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        losses = step(z)

    def replay():
        z.copy_(torch.randn(batch, 100, device=device))
        graph.replay()
        return losses
    return replay


def launches(step, device):
    """Kernel launches of one step (a graph replay counts as one), by the CUDA profiler."""
    if device != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
        torch.cuda.synchronize()
    names = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cudaGraphLaunch")
    return sum(e.count for e in prof.key_averages() if e.key in names)


def image_shape(case):
    return (1, 28, 28) if case == "wgan28" else (3, 64, 64)


def critic(case):
    """minigan.models.WGANCritic: DCGAN's discriminator with LayerNorm in place of BatchNorm."""
    def block(c_in, c_out, size):
        return [tnn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), tnn.LayerNorm([c_out, size, size]),
                tnn.LeakyReLU(0.2)]
    if case == "wgan28":
        return tnn.Sequential(
            tnn.Conv2d(1, 64, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2), *block(64, 128, 7),
            tnn.Conv2d(128, 1, 7, 1, 0, bias=False), tnn.Flatten())
    return tnn.Sequential(
        tnn.Conv2d(3, 64, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2), *block(64, 128, 16),
        *block(128, 256, 8), *block(256, 512, 4), tnn.Conv2d(512, 1, 4, 1, 0, bias=False),
        tnn.Flatten())


def wgan_step(case, batch, device):
    torch.manual_seed(0)
    D = critic(case).to(device)
    opt = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    real = torch.rand(batch, *image_shape(case), device=device) * 2 - 1
    fake = torch.rand(batch, *image_shape(case), device=device) * 2 - 1

    def penalty():
        eps = torch.rand(batch, 1, 1, 1, device=device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        norms = (g.reshape(batch, -1).pow(2).sum(1) + 1e-12).sqrt()
        return LAMBDA * ((norms - 1) ** 2).mean()

    def step():
        loss = D(fake).mean() - D(real).mean() + penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step
