"""One GAN training step, timed in minigan and in PyTorch in the same run.

A step: G forward; D on the real batch and on the detached fake batch,
backward, Adam step; D on the fake batch, G backward, Adam step (BCE with
logits, Adam lr 2e-4, betas (0.5, 0.999)) — the step of ../shared/anchors.md.

    python benchmarks/gan_step.py --case mlp-gan --device cpu
    python benchmarks/gan_step.py --case dcgan28 --batch 64

Prints the median over --repeats timed runs for each library and the ratio
minigan / PyTorch, with the CPU or GPU named. On a GPU each library's step is
timed three ways: to the end of its GPU work (the ratio uses this), the host time
until the step's Python returns, and the GPU time between CUDA events recorded
around it; a host time near the total says the step is bound by the launches.
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
from minigan import backend, models  # noqa: E402

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


def device_name(device):
    """The GPU's name, or the CPU's and its core count."""
    if device == "cuda":
        name = backend.cupy.cuda.runtime.getDeviceProperties(0)["name"]
        return name.decode() if isinstance(name, bytes) else name
    return f"{cpu_name()}, {os.cpu_count()} cores"


class Events:
    """CUDA events of one library: ``new()`` makes one, ``elapsed_ms(a, b)`` reads a pair."""

    def __init__(self, new, elapsed_ms):
        self.new, self.elapsed_ms = new, elapsed_ms


def minigan_events(device):
    if device != "cuda":
        return None
    cuda = backend.cupy.cuda
    return Events(cuda.Event, cuda.get_elapsed_time)


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
            backend.cupy.cuda.runtime.deviceSynchronize()
    return step, sync, minigan_events(device)


def torch_events(device):
    if device != "cuda":
        return None
    import torch
    return Events(lambda: torch.cuda.Event(enable_timing=True), lambda a, b: a.elapsed_time(b))


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
    return step, sync, torch_events(device)


def _timed(step, sync, events, repeats):
    """(total, host, GPU) ms of each of ``repeats`` steps: total until the step's GPU work has
    ended, host until its Python returns, GPU between CUDA events around it (None on a CPU)."""
    rows = []
    for _ in range(repeats):
        if events:
            start, end = events.new(), events.new()
            start.record()
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        if events:
            end.record()
        sync()
        t2 = time.perf_counter()
        rows.append(((t2 - t0) * 1e3, (t1 - t0) * 1e3,
                     events.elapsed_ms(start, end) if events else None))
    return rows


def medians(rows):
    """Median total, host and GPU ms of ``rows`` from ``_timed``."""
    return tuple(None if col[0] is None else statistics.median(col) for col in zip(*rows))


def measure(contenders, warmup, repeats, rounds):
    """{name: (total, host, GPU) median ms} of contenders {name: (step, sync, events)}.

    The libraries take turns, ``rounds`` times ``repeats`` steps each, so that a busy
    machine slows both alike; the medians are over all timed steps.
    """
    rows = {name: [] for name in contenders}
    for contender in contenders.values():
        _timed(*contender, warmup)
    for _ in range(rounds):
        for name, contender in contenders.items():
            rows[name] += _timed(*contender, repeats)
    return {name: medians(r) for name, r in rows.items()}


def gpu_columns(timing):
    """' host h GPU g' for a GPU timing, '' on a CPU."""
    if timing is None or timing[2] is None:
        return ""
    return f" (host {timing[1]:6.1f}, GPU {timing[2]:6.1f})"


def peak_memory_mb(step):
    """Peak NumPy memory of one step in MB (tracemalloc sees NumPy's allocations; CPU only)."""
    import tracemalloc
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def use_torch(device, threads=None):
    """PyTorch set up as in ../shared/anchors.md (fp32, TF32 off), or None if absent."""
    try:
        import torch
    except ImportError:
        return None
    if device == "cpu" and threads:
        torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def run_case(case, batch, device, warmup=3, repeats=10, threads=None, rounds=3):
    """(total, host, GPU) median ms/step for minigan and for PyTorch (None if absent)."""
    contenders = {"minigan": minigan_step_fn(case, batch, device)}
    if use_torch(device, threads):
        contenders["torch"] = torch_step_fn(case, batch, device)
    timings = measure(contenders, warmup, repeats, rounds)
    return timings["minigan"], timings.get("torch")


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
    print(f"device: {args.device} ({device_name(args.device)}); "
          f"median of {args.rounds}x{args.repeats} steps "
          f"(libraries taking turns) after {args.warmup} warm-up; load average "
          f"{os.getloadavg()[0]:.1f}")
    gpu = "  (host, GPU by CUDA events)" if args.device == "cuda" else ""
    print(f"{'case':<10} {'batch':>5} {'minigan ms':>11}{gpu} {'PyTorch ms':>11}{gpu} "
          f"{'ratio':>6}" + ("  minigan peak MB" if args.device == "cpu" else ""))
    per_case = dict(item.split("=") for item in args.batch_for)
    for case in args.case:
        batch = int(per_case.get(case, 0)) or args.batch or CASES[case]["batch"]
        ours, theirs = run_case(case, batch, args.device, args.warmup, args.repeats,
                                threads=os.cpu_count(), rounds=args.rounds)
        ratio = f"{ours[0] / theirs[0]:6.2f}" if theirs else "   n/a"
        theirs_s = f"{theirs[0]:11.1f}{gpu_columns(theirs)}" if theirs else "   (absent)"
        memory = ""
        if args.device == "cpu":   # after the timing: tracing slows the step it watches
            memory = f"  {peak_memory_mb(minigan_step_fn(case, batch, 'cpu')[0]):15.1f}"
        print(f"{case:<10} {batch:>5} {ours[0]:11.1f}{gpu_columns(ours)} {theirs_s} {ratio}"
              f"{memory}", flush=True)


if __name__ == "__main__":
    main()
