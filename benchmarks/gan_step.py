"""One training step, timed in minigan and in PyTorch, each library in a process of its own.

The cases (steps in minigan_steps.py and torch_steps.py, the same layers in both):
  mlp-gan, dcgan28, dcgan64   a GAN step: G forward; D on the real batch and on the detached
      fake batch, backward, Adam step; D on the fake batch, G backward, Adam step (BCE with
      logits, Adam lr 2e-4, betas (0.5, 0.999)) -- the step of the reference numbers
  wgan28, wgan64   a WGAN-GP critic step on fixed real and fake batches (no generator):
          loss = E[D(x~)] - E[D(x)] + 10 E[(|grad D(x^)|_2 - 1)^2],  x^ = e x + (1 - e) x~
      the penalty's gradient taken with create_graph=True, then loss.backward() (the double
      backward) and one Adam step (lr 1e-4, betas (0.0, 0.9)); the critic is DCGAN's
      discriminator with LayerNorm in place of BatchNorm (minigan.models.WGANCritic)

How it is timed: each library runs in a persistent worker process of its own, which builds
the step once (models, optimizers, fixed data) and warms up. The workers are then asked in
turn, --rounds times, for --repeats timed steps each; which one goes first alternates from
round to round, and only one runs at a time (the other waits for its request, and each
turn begins 0.3 s after the last, once the other's BLAS threads have stopped spinning). Each
library's time is the median over all its timed steps; the ratio minigan / PyTorch is the
median of the per-round ratios (a round's minigan median over its PyTorch median), so that
a busy spell of the machine slows both sides of a ratio alike; min-max gives their spread.
Why separate processes: in one process NumPy's OpenBLAS threads keep spinning after each
GEMM and slow PyTorch's next step (dcgan28: 190 ms a PyTorch step, against 110 ms alone),
and a user runs one library alone.

Each worker uses --threads CPU threads (default: every core): OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS and MKL_NUM_THREADS are set in its environment before NumPy or PyTorch
loads, and PyTorch's by torch.set_num_threads; its environment is otherwise the user's. On
a CPU the peak RSS of each worker (a fresh process that built the step and ran it) is
reported, and its peak RSS once built, before the first step: the step's own growth is the
difference. On a GPU each step is timed three ways: to the end of its GPU work (the ratio
uses this), the host time until the step's Python returns, and the GPU time between CUDA
events recorded around it; a host time near the total says the step is bound by launches.

    python benchmarks/gan_step.py --case dcgan28 wgan28 mlp-gan
    python benchmarks/gan_step.py --case dcgan64 wgan64 --device cuda --batch 128
    python benchmarks/gan_step.py --case dcgan28 --only minigan --threads 1   # profiling
    python benchmarks/gan_step.py --case dcgan28 mlp-gan dcgan64 --device cuda --graph

The floor (CPU): before the cases, a process of its own times NumPy's float32 GEMM on this
machine (2048 x 2048 x 2048, --threads threads, the best of 5) and names the CPU's vector
width and the BLAS kernel (threadpoolctl's or OpenBLAS's own report). Each case's FLOPs are
2 x the multiply-adds of every product in one minigan step (the same count as PyTorch's
FLOP counter for dcgan28 and mlp-gan: 17.93 and 1.09 GFLOP, measured; that counter cannot
follow the WGAN's double backward). FLOPs / GEMM rate is the time no step can beat here;
each library's step is printed as a multiple of it, a number that carries over to machines
of another kind.

On a shared machine quote the ratio, not the times.
"""
import argparse
import importlib
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

CASES = {"mlp-gan": 64, "dcgan28": 64, "dcgan64": 128, "wgan28": 64, "wgan64": 128}   # batch
LIBRARIES = ("minigan", "torch")
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
GPU_COLUMNS = " (host, GPU by CUDA events)"
# NOTE: OpenBLAS threads keep spinning for about 0.1 s after a GEMM, in a worker that waits for
# its next request too (measured: a core's worth of time, then none): each turn begins this long
# after the last, so that it runs alone
SETTLE_S = 0.3


# ---- the worker: one library's step, in a process of its own ----

def worker(library, case, batch, device, warmup, threads, graph=False):
    """Build the step and warm up, say so (with the kernel launches of one step, on a GPU,
    and the FLOPs of one step, on a CPU); then time the steps asked for on stdin, one reply
    (a JSON line) per request, until stdin closes."""
    channel = reply_channel()
    # NOTE: NumPy's BLAS and PyTorch read their thread count once, when they load
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    if library == "gemm":
        return send(channel, gemm_rate())
    if library == "torch" and not torch_runs_on(device):
        return send(channel, {"absent": True})
    steps = importlib.import_module(f"{library}_steps")   # minigan_steps or torch_steps
    steps.setup(threads)
    step, sync, events = steps.build(case, batch, device, graph) if graph else \
        steps.build(case, batch, device)
    built_mb = peak_rss_mb()
    timed(step, sync, events, warmup)
    flops = steps.flops(step, device) if hasattr(steps, "flops") else None
    send(channel, {"built_mb": built_mb, "launches": steps.launches(step, device),
                   "flops": flops})
    for request in sys.stdin:
        send(channel, {"ms": timed(step, sync, events, int(request)), "peak_mb": peak_rss_mb()})


def gemm_rate(size=2048, rounds=5):
    """NumPy's float32 GEMM on this machine: {"gflops": the best of ``rounds`` products of
    size³, "blas": the library and its kernel}."""
    import numpy as np
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a   # warm up: BLAS starts its threads
    best = min(seconds(lambda: a @ a) for _ in range(rounds))
    return {"gflops": 2 * size ** 3 / best / 1e9, "blas": blas_name()}


def seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def blas_name():
    """NumPy's BLAS and its kernel: threadpoolctl's report, else OpenBLAS's own."""
    try:
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i["user_api"] == "blas"][0]
        return f"{info['internal_api']} {info['version']} ({info['architecture']} kernel)"
    except (ImportError, IndexError, KeyError):
        from minigan import threads
        lib = threads.blas()
        return f"OpenBLAS ({lib['corename']} kernel)" if lib else "not an OpenBLAS we can read"


def vector_width():
    """The widest x86 vector extension in /proc/cpuinfo's flags (AVX-512, AVX2), or '?'."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        flags = []
    return "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "?"


def reply_channel():
    """The pipe to the parent, the stdout the worker was started with; from here on its own
    prints (a library's notice, say) go to stderr, where they cannot garble a reply."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return channel


def send(channel, reply):
    channel.write(json.dumps(reply) + "\n")
    channel.flush()


def torch_runs_on(device):
    """Whether PyTorch is installed and, for "cuda", built with CUDA and seeing a GPU."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch
    return device == "cpu" or torch.cuda.is_available()


def peak_rss_mb():
    """This process's peak resident memory so far, in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(step, sync, events, repeats):
    """[total, host, GPU] ms of each of ``repeats`` steps: total until the step's GPU work
    has ended, host until its Python returns, GPU between CUDA events around it (None on a
    CPU)."""
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
        rows.append([(t2 - t0) * 1e3, (t1 - t0) * 1e3,
                     events.elapsed_ms(start, end) if events else None])
    return rows


# ---- the parent: start the workers, ask them in turn, report ----

def launcher():
    """This interpreter with the options and module this script was started through, e.g.
    ``python -m cuda_emu`` (the emulated GPU), which must run the workers too."""
    return [sys.executable] + sys.orig_argv[1:len(sys.orig_argv) - len(sys.argv)]


class Worker:
    """A worker process, seen from the parent; once started it has built its step and warmed up."""

    def __init__(self, library, case, batch, args):
        self.library = library   # or "gemm": the GEMM rate, measured once
        command = launcher() + [os.path.join(HERE, "gan_step.py"), "--worker", library,
                                "--case", case, "--batch", str(batch), "--device", args.device,
                                "--warmup", str(args.warmup), "--threads", str(args.threads)]
        command += ["--graph"] if args.graph else []
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.ready = self.receive()
        self.replies = []

    def time(self, repeats):
        self.process.stdin.write(f"{repeats}\n")
        self.process.stdin.flush()
        self.replies.append(self.receive())

    def receive(self):
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the {self.library} worker ended (exit {self.process.wait()})")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def run_case(case, batch, args):
    """{library: its Worker, having timed its steps}; a library that is absent is left out."""
    workers = {}
    for library in [args.only] if args.only else LIBRARIES:
        worker = Worker(library, case, batch, args)   # one at a time: none competes with a build
        if worker.ready.get("absent"):
            worker.close()
        else:
            workers[library] = worker
    order = list(workers)
    for n in range(args.rounds):
        for library in order[::-1] if n % 2 else order:
            time.sleep(SETTLE_S)
            workers[library].time(args.repeats)
    for worker in workers.values():
        worker.close()
    return workers


def medians(worker):
    """Median total, host and GPU ms over all the worker's timed steps."""
    rows = [row for reply in worker.replies for row in reply["ms"]]
    return [None if col[0] is None else statistics.median(col) for col in zip(*rows)]


def round_ratios(ours, theirs):
    """Per round, minigan's median ms over PyTorch's."""
    def median_ms(reply):
        return statistics.median(total for total, host, gpu in reply["ms"])
    return [median_ms(a) / median_ms(b) for a, b in zip(ours.replies, theirs.replies)]


def timing_columns(worker, device):
    """A library's median ms, with its host and GPU ms on a GPU; '-' if it did not run."""
    if worker is None:
        return f"{'-':>11}" + (" " * len(GPU_COLUMNS) if device == "cuda" else "")
    total, host, gpu = medians(worker)
    if device == "cuda":
        return f"{total:11.1f}" + f" (host {host:6.1f}, GPU {gpu:6.1f})".ljust(len(GPU_COLUMNS))
    return f"{total:11.1f}"


def memory_columns(worker):
    """A library's peak RSS once built and after its steps, in MB; '-' if it did not run."""
    if worker is None:
        return f" {'-':>16} {'-':>15}"
    return f" {worker.ready['built_mb']:16.0f} {worker.replies[-1]['peak_mb']:15.0f}"


def row(case, batch, workers, args):
    ours, theirs = workers.get("minigan"), workers.get("torch")
    if ours and theirs:
        ratios = round_ratios(ours, theirs)
        ratio = f"{statistics.median(ratios):6.2f} {f'{min(ratios):.2f}-{max(ratios):.2f}':<11}"
    else:
        ratio = f"{'n/a':>6} {'n/a':<11}"
    line = (f"{case:<8} {batch:>5} {timing_columns(ours, args.device)} "
            f"{timing_columns(theirs, args.device)} {ratio}")
    if args.memory:
        line += memory_columns(ours) + memory_columns(theirs)
    return line.rstrip()


def floor_line(workers, rate):
    """The floor, FLOPs / GEMM rate, and each library's step as a multiple of it."""
    flops = workers["minigan"].ready["flops"] if "minigan" in workers else None
    if not flops or not rate:
        return "  floor: n/a (minigan's FLOP count and the GEMM rate are measured on a CPU)"
    floor_ms = flops / (rate * 1e9) * 1e3
    multiples = ", ".join(f"{'PyTorch' if lib == 'torch' else lib} {medians(w)[0] / floor_ms:.2f}x"
                          for lib, w in workers.items())
    return (f"  floor: {flops / 1e9:.2f} GFLOP / {rate:.0f} GFLOP/s = {floor_ms:.1f} ms; "
            f"step / floor: {multiples}")


def launch_line(workers):
    """The launches of one step: for minigan its own kernels + its GEMM kernels (a graph's
    own launch not counted), for PyTorch every kernel and graph launch (its profiler)."""
    counts = {lib: w.ready.get("launches") for lib, w in workers.items()}
    return ("  launches per step: " + ", ".join(f"{lib} {n}" for lib, n in counts.items()) +
            " (minigan: our kernels + GEMMs; torch: every launch, a graph's as one)")


def header(args):
    gpu = GPU_COLUMNS if args.device == "cuda" else ""
    line = (f"{'case':<8} {'batch':>5} {'minigan ms':>11}{gpu} {'PyTorch ms':>11}{gpu} "
            f"{'ratio':>6} {'min-max':<11}")
    if args.memory:
        line += (f" {'minigan built MB':>16} {'minigan peak MB':>15}"
                 f" {'PyTorch built MB':>16} {'PyTorch peak MB':>15}")
    return line


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
        from minigan import backend
        name = backend.cupy.cuda.runtime.getDeviceProperties(0)["name"]
        return name.decode() if isinstance(name, bytes) else name
    return f"{cpu_name()}, {os.cpu_count()} cores"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=list(CASES), nargs="+", default=["mlp-gan"])
    p.add_argument("--batch", type=int, help="batch size for every case (default: per case, "
                   + ", ".join(f"{case} {batch}" for case, batch in CASES.items()) + ")")
    p.add_argument("--batch-for", nargs="+", default=[], metavar="CASE=N",
                   help="batch size per case, e.g. dcgan28=128")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--repeats", type=int, default=10, help="timed steps per round (10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (3)")
    p.add_argument("--rounds", type=int, default=3,
                   help="the libraries take turns this many times (3)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="CPU threads of each library (default: every core)")
    p.add_argument("--only", choices=LIBRARIES, help="time one library (profiling)")
    p.add_argument("--graph", action="store_true", help="on a GPU, each library's GAN step as "
                   "a CUDA graph, captured once and replayed (minigan.cuda.CapturedStep, "
                   "torch.cuda.graphs)")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="leave out the memory columns (always left out on a GPU)")
    p.add_argument("--worker", choices=LIBRARIES + ("gemm",), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.graph and args.device != "cuda":
        p.error("--graph needs --device cuda")
    args.memory = args.memory and args.device == "cpu"   # a GPU step's memory is not the RSS
    return args


def main():
    args = parse_args()
    if args.worker:
        return worker(args.worker, args.case[0], args.batch, args.device, args.warmup,
                      args.threads, args.graph)
    print(f"device: {args.device} ({device_name(args.device)}); threads per library: "
          f"{args.threads}; each library in a process of its own, median of {args.rounds}x"
          f"{args.repeats} steps after {args.warmup} warm-up, rounds alternating which goes "
          f"first, ratio: the median of the rounds'; "
          f"{'CUDA graphs (captured, replayed); ' if args.graph else ''}"
          f"load average {os.getloadavg()[0]:.1f}")
    rate = None
    if args.device == "cpu":
        gemm = Worker("gemm", args.case[0], 0, args)   # alone, before any case
        gemm.close()
        rate = gemm.ready["gflops"]
        print(f"CPU vector width: {vector_width()}; NumPy's BLAS: {gemm.ready['blas']}; "
              f"float32 GEMM (2048^3, {args.threads} threads, best of 5): {rate:.0f} GFLOP/s")
    print(header(args))
    per_case = dict(item.split("=") for item in args.batch_for)
    for case in args.case:
        batch = int(per_case.get(case, 0)) or args.batch or CASES[case]
        workers = run_case(case, batch, args)
        print(row(case, batch, workers, args), flush=True)
        if args.device == "cpu":
            print(floor_line(workers, rate), flush=True)
        if args.device == "cuda":
            print(launch_line(workers), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
