"""Where one training step spends its time, op by op, on the CPU.

    python benchmarks/profile_step.py --case dcgan28            # batch 64, 5 steps
    python benchmarks/profile_step.py --case wgan28 mlp-gan --steps 10

For each case it prints two tables, per step (the mean over --steps profiled
steps, after --warmup):

* per op type: calls, forward ms, backward ms (a backward counts everything its
  ``backward`` runs, the ops it calls included), and their share of the step;
* per kind of work: GEMM (every ``matmul`` an op makes), the conv's pixel movers
  (im2col, col2im and the batch-last transposes), the rest of the ops' array work
  (elementwise, reductions, the Python inside ops), the optimizer step, and the rest
  of the step: Python outside the ops (modules, the engine's loop, Tensor wrappers).

How: while it runs, the profiler wraps ``Function.__call__``, every op's
``backward``, ``minigan.threads.matmul``, the conv movers and the optimizer's
``step`` and ``zero_grad``, and keeps exclusive times on a stack, so nothing is
counted twice. The wrappers cost about a microsecond a call; the step time printed
is the profiled one, and the unprofiled median is printed beside it for comparison.
CPU only: on a GPU, launches return before the work is done.
"""
import argparse
import os
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import minigan_steps  # noqa: E402
import numpy as np  # noqa: E402

from minigan import optim, threads  # noqa: E402
from minigan.autograd.function import Function  # noqa: E402
from minigan.ops import conv  # noqa: E402

OWNERS = ("forward", "backward", "optimizer")   # frames that own the ops run inside them
KINDS = ("GEMM", "pixel movers", "other array work in ops", "optimizer", "Python outside ops")


class Profiler:
    """Exclusive wall time per (op, phase) and per kind of work, kept on a stack.

    A frame is [key, kind, start, time of its children]; when it closes, its time minus
    its children's goes to its own key, and its whole time to its parent's children.
    """

    def __init__(self):
        self.ops = defaultdict(lambda: {"calls": 0, "forward": 0.0, "backward": 0.0})
        self.kinds = defaultdict(float)
        self.stack = []
        self.undo = []

    def timed(self, fn, key, kind):
        """fn wrapped: its whole time goes to op ``key`` (if any; a callable gets the
        arguments), its exclusive time to ``kind``."""
        def wrapper(*args, **kwargs):
            if kind == "forward" and any(f[1] in OWNERS for f in self.stack):
                return fn(*args, **kwargs)   # an op run by a backward counts as that backward
            frame = [key(args) if callable(key) else key, kind, time.perf_counter(), 0.0]
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stack.pop()
                elapsed = time.perf_counter() - frame[2]
                self.charge(frame, elapsed, elapsed - frame[3])
                if self.stack:
                    self.stack[-1][3] += elapsed
        return wrapper

    def charge(self, frame, whole, exclusive):
        key, kind = frame[0], frame[1]
        if kind in ("forward", "backward"):
            self.ops[key][kind] += whole
            self.ops[key]["calls"] += kind == "forward"
            kind = "other array work in ops"
        self.kinds[kind] += exclusive

    def patch(self, owner, name, key, kind):
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, self.timed(original, key, kind))
        self.undo.append((owner, name, original))

    def __enter__(self):
        self.patch(Function, "__call__", lambda args: type(args[0]).__name__, "forward")
        for cls in _subclasses(Function):
            if "backward" in cls.__dict__:
                self.patch(cls, "backward", cls.__name__, "backward")
        self.patch(threads, "matmul", None, "GEMM")   # every op's products go through it
        for cls in (optim.Optimizer, *_subclasses(optim.Optimizer)):
            for name in ("step", "zero_grad"):
                if name in cls.__dict__:
                    self.patch(cls, name, None, "optimizer")
        self._patch_movers()
        return self

    def _patch_movers(self):
        """Swap conv.NUMPY_MOVERS, which the conv forwards take as a default argument: its
        four pixel movers, and its product of each group (a GEMM)."""
        movers = conv.NUMPY_MOVERS
        timed = conv.Movers(*(self.timed(f, None, "GEMM" if name == "matmul" else "pixel movers")
                              for name, f in zip(movers._fields, movers)))
        for cls in _subclasses(Function):
            forward = cls.__dict__.get("forward")
            defaults = getattr(forward, "__defaults__", None) or ()
            if any(d is movers for d in defaults):
                forward.__defaults__ = tuple(timed if d is movers else d for d in defaults)
                self.undo.append((forward, "__defaults__", defaults))

    def __exit__(self, *exc):
        for owner, name, original in reversed(self.undo):
            setattr(owner, name, original)
        self.undo.clear()


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def step_fn(case, batch):
    """A minigan training step of ``case`` on the CPU (the steps of gan_step.py)."""
    return minigan_steps.build(case, batch, "cpu")[0]


def median_ms(step, steps):
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[len(times) // 2]


def profile(case, batch, steps, warmup):
    """(profiled ms per step, unprofiled median ms, Profiler) for one case."""
    step = step_fn(case, batch)
    for _ in range(warmup):
        step()
    plain = median_ms(step, steps)
    with Profiler() as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        total = (time.perf_counter() - t0) * 1e3 / steps
    accounted = sum(prof.kinds.values()) * 1e3 / steps
    prof.kinds["Python outside ops"] += (total - accounted) * steps / 1e3
    return total, plain, prof


def report(case, batch, steps, total, plain, prof):
    per_step = 1e3 / steps
    print(f"\n{case}, batch {batch}: {total:.1f} ms per profiled step "
          f"(unprofiled median {plain:.1f} ms), mean of {steps} steps")
    print(f"{'op':<24} {'calls':>6} {'forward ms':>11} {'backward ms':>12} {'share':>6}")
    rows = sorted(prof.ops.items(), key=lambda kv: -(kv[1]["forward"] + kv[1]["backward"]))
    for name, row in rows:
        fwd, bwd = row["forward"] * per_step, row["backward"] * per_step
        print(f"{name:<24} {row['calls'] / steps:6.0f} {fwd:11.2f} {bwd:12.2f} "
              f"{(fwd + bwd) / total:6.1%}")
    print("(an op's forward and backward include the GEMMs and movers it runs)")
    print(f"{'kind of work':<26} {'ms':>8} {'share':>6}")
    for kind in KINDS:
        ms = prof.kinds[kind] * per_step
        print(f"{kind:<26} {ms:8.2f} {ms / total:6.1%}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", nargs="+", default=["dcgan28"],
                   choices=["mlp-gan", "dcgan28", "dcgan64", "wgan28", "wgan64"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    print(f"CPU: {os.cpu_count()} cores, NumPy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for case in args.case:
        report(case, args.batch, args.steps, *profile(case, args.batch, args.steps, args.warmup))


if __name__ == "__main__":
    main()
