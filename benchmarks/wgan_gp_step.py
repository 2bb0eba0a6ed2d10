"""One WGAN-GP critic step, timed in minigan and in PyTorch in the same run.

A step, on fixed real and fake batches (the generator is not part of it):
    loss = E[D(x̃)] - E[D(x)] + λ E[(‖∇ D(x̂)‖₂ - 1)²],   x̂ = ε x + (1 - ε) x̃,  λ = 10
the penalty's gradient taken with create_graph=True, then loss.backward() (the
double backward) and one Adam step (lr 1e-4, betas (0.0, 0.9)), as in the paper.
The critic is DCGAN's discriminator with LayerNorm in place of BatchNorm
(minigan.models.WGANCritic, the same layers in PyTorch).

    python benchmarks/wgan_gp_step.py                       # wgan28, batch 64, CPU
    python benchmarks/wgan_gp_step.py --case wgan64 --device cuda --batch 128

Prints, for each library, the median of --rounds × --repeats timed steps (the two
take turns, as in gan_step.py), the ratio minigan / PyTorch, the CPU or GPU, and the
load average: on a shared machine quote the ratio, not the times.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

CASES = ("wgan28", "wgan64")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=CASES, nargs="+", default=["wgan28"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3,
                   help="the libraries take turns this many times (default 3)")
    p.add_argument("--threads", type=int, help="CPU threads for both libraries (default: every "
                   "core); set before NumPy loads its BLAS")
    p.add_argument("--only", choices=["minigan", "torch"], help="time one library (profiling)")
    return p.parse_args(argv)


# NOTE: OpenBLAS reads its thread count once, when NumPy loads: parse --threads before that.
ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import minigan  # noqa: E402
from gan_step import (device_name, gpu_columns, measure, minigan_events, torch_events,  # noqa: E402
                      use_torch)
from minigan import backend, models  # noqa: E402
from minigan.penalties import gradient_penalty  # noqa: E402

LAMBDA, LR, BETAS = 10.0, 1e-4, (0.0, 0.9)


def image_shape(case):
    return (1, 28, 28) if case == "wgan28" else (3, 64, 64)


def minigan_step_fn(case, batch, device):
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

    def sync():
        if device == "cuda":
            backend.cupy.cuda.runtime.deviceSynchronize()
    return step, sync, minigan_events(device)


def torch_critic(case):
    import torch.nn as tnn

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


def torch_step_fn(case, batch, device):
    import torch
    torch.manual_seed(0)
    D = torch_critic(case).to(device)
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

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
    return step, sync, torch_events(device)


def run_case(case, batch, device, warmup=3, repeats=10, threads=None, only=None, rounds=3):
    """(total, host, GPU) median ms/step for minigan and PyTorch (None if skipped or absent);
    as in gan_step.py the two libraries take turns, ``rounds`` times ``repeats`` steps each."""
    contenders = {}
    if only != "torch":
        contenders["minigan"] = minigan_step_fn(case, batch, device)
    if only != "minigan" and use_torch(device, threads or os.cpu_count()):
        contenders["torch"] = torch_step_fn(case, batch, device)
    timings = measure(contenders, warmup, repeats, rounds)
    return timings.get("minigan"), timings.get("torch")


def main(args):
    where = device_name(args.device)
    if args.device == "cpu":
        where += f", {args.threads or os.cpu_count()} threads per library"
    print(f"device: {args.device} ({where}); WGAN-GP critic step (λ = {LAMBDA:g}, Adam); "
          f"median of {args.rounds}x{args.repeats} steps (libraries taking turns) after "
          f"{args.warmup} warm-up; load average {os.getloadavg()[0]:.1f}")
    gpu = "  (host, GPU by CUDA events)" if args.device == "cuda" else ""
    print(f"{'case':<8} {'batch':>5} {'minigan ms':>11}{gpu} {'PyTorch ms':>11}{gpu} "
          f"{'ratio':>6}")
    for case in args.case:
        ours, theirs = run_case(case, args.batch, args.device, args.warmup, args.repeats,
                                args.threads, args.only, args.rounds)
        ratio = f"{ours[0] / theirs[0]:6.2f}" if ours and theirs else "   n/a"
        ours_s = f"{ours[0]:11.1f}{gpu_columns(ours)}" if ours else "          -"
        theirs_s = f"{theirs[0]:11.1f}{gpu_columns(theirs)}" if theirs else "          -"
        print(f"{case:<8} {args.batch:>5} {ours_s} {theirs_s} {ratio}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(ARGS)
