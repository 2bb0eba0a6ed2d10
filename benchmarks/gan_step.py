"""One GAN training step, timed in minigan and in PyTorch in the same run.

A step: G forward; D on the real batch and on the detached fake batch,
backward, Adam step; D on the fake batch, G backward, Adam step (BCE with
logits, Adam lr 2e-4, betas (0.5, 0.999)) — the step of ../shared/anchors.md.

    python benchmarks/gan_step.py --case mlp-gan --device cpu
    python benchmarks/gan_step.py --case dcgan28 --batch 64

Prints the median over --repeats timed runs for each library and the ratio
minigan / PyTorch, with the CPU or GPU named.
"""
import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigan  # noqa: E402
import minigan.functional as F  # noqa: E402
from minigan import models  # noqa: E402

CASES = {"mlp-gan": dict(batch=64), "dcgan28": dict(batch=64), "dcgan64": dict(batch=128)}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def build_minigan(case):
    if case == "mlp-gan":
        return models.MLPGenerator(), models.MLPDiscriminator(), (1, 28, 28)
    if case == "dcgan28":
        return models.DCGANGenerator(image_size=28), models.DCGANDiscriminator(image_size=28), (1, 28, 28)
    return models.DCGANGenerator(image_size=64), models.DCGANDiscriminator(image_size=64), (3, 64, 64)


def minigan_step_fn(case, batch, device):
    minigan.manual_seed(0)
    minigan.cuda.matmul.allow_tf32 = False   # fp32 GEMMs, as PyTorch's in this benchmark
    G, D, shape = build_minigan(case)
    G.to(device), D.to(device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = minigan.rand(batch, *shape, device=device) * 2 - 1
    ones = minigan.ones(batch, 1, device=device)
    zeros = minigan.zeros(batch, 1, device=device)
    nz = 100

    def step():
        z = minigan.randn(batch, nz, device=device)
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
        return loss_D, loss_G

    def sync():
        if device == "cuda":
            import cupy
            cupy.cuda.runtime.deviceSynchronize()
    return step, sync


def torch_step_fn(case, batch, device):
    import torch
    import torch.nn as tnn
    torch.manual_seed(0)
    if case == "mlp-gan":
        def block(i, o, bn=True):
            return [tnn.Linear(i, o)] + ([tnn.BatchNorm1d(o, 0.8)] if bn else []) + [tnn.LeakyReLU(0.2)]
        G = tnn.Sequential(*block(100, 128, False), *block(128, 256), *block(256, 512),
                           *block(512, 1024), tnn.Linear(1024, 784), tnn.Tanh(), tnn.Unflatten(1, (1, 28, 28)))
        D = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.LeakyReLU(0.2), tnn.Linear(512, 256),
                           tnn.LeakyReLU(0.2), tnn.Linear(256, 1))
        shape = (1, 28, 28)
    elif case == "dcgan28":
        G = tnn.Sequential(
            tnn.ConvTranspose2d(100, 256, 7, 1, 0, bias=False), tnn.BatchNorm2d(256), tnn.ReLU(),
            tnn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.ReLU(),
            tnn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), tnn.Tanh())
        D = tnn.Sequential(
            tnn.Conv2d(1, 64, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2),
            tnn.Conv2d(64, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.LeakyReLU(0.2),
            tnn.Conv2d(128, 1, 7, 1, 0, bias=False))
        shape = (1, 28, 28)
    else:
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
        shape = (3, 64, 64)
    G.to(device), D.to(device)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, *shape, device=device) * 2 - 1
    ones = torch.ones(batch, 1, device=device)
    zeros = torch.zeros(batch, 1, device=device)
    bce = tnn.functional.binary_cross_entropy_with_logits

    def step():
        z = torch.randn(batch, 100, device=device)
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

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
    return step, sync


def _timed(step, sync, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def peak_memory_mb(step):
    """Peak NumPy memory of one step in MB (tracemalloc sees NumPy's allocations; CPU only)."""
    import tracemalloc
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def time_step(step, sync, warmup, repeats):
    """Median ms of ``repeats`` steps after ``warmup`` untimed ones."""
    _timed(step, sync, warmup)
    return statistics.median(_timed(step, sync, repeats)) * 1000


def run_case(case, batch, device, warmup=3, repeats=10, threads=None, rounds=3):
    """Median ms/step for minigan and PyTorch (None where PyTorch is not installed).

    The two libraries take turns, ``rounds`` times ``repeats`` steps each, so that a
    busy machine slows both alike; the median is over all timed steps.
    """
    contenders = [minigan_step_fn(case, batch, device)]
    try:
        import torch
        if device == "cpu" and threads:
            torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        contenders.append(torch_step_fn(case, batch, device))
    except ImportError:
        pass
    times = [[] for _ in contenders]
    for step, sync in contenders:
        _timed(step, sync, warmup)
    for _ in range(rounds):
        for (step, sync), bucket in zip(contenders, times):
            bucket += _timed(step, sync, repeats)
    medians = [statistics.median(t) * 1000 for t in times]
    return medians[0], (medians[1] if len(medians) > 1 else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), nargs="+", default=["mlp-gan"])
    parser.add_argument("--batch", type=int, help="batch size for every case (default: per case)")
    parser.add_argument("--batch-for", nargs="+", default=[], metavar="CASE=N",
                        help="batch size per case, e.g. dcgan28=128")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="the libraries take turns this many times (default 3)")
    args = parser.parse_args()
    if args.device == "cuda":
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        where = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    else:
        where = f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"device: {args.device} ({where}); median of {args.rounds}x{args.repeats} steps "
          f"(libraries taking turns) after {args.warmup} warm-up; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'case':<10} {'batch':>5} {'minigan ms':>11} {'PyTorch ms':>11} {'ratio':>6}"
          + ("  minigan peak MB" if args.device == "cpu" else ""))
    per_case = dict(item.split("=") for item in args.batch_for)
    for case in args.case:
        batch = int(per_case.get(case, 0)) or args.batch or CASES[case]["batch"]
        ours, theirs = run_case(case, batch, args.device, args.warmup, args.repeats,
                                threads=os.cpu_count(), rounds=args.rounds)
        ratio = f"{ours / theirs:6.2f}" if theirs else "   n/a"
        theirs_s = f"{theirs:11.1f}" if theirs else "   (absent)"
        memory = ""
        if args.device == "cpu":   # after the timing: tracing slows the step it watches
            memory = f"  {peak_memory_mb(minigan_step_fn(case, batch, 'cpu')[0]):15.1f}"
        print(f"{case:<10} {batch:>5} {ours:11.1f} {theirs_s} {ratio}{memory}")


if __name__ == "__main__":
    main()
