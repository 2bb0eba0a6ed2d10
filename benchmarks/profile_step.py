"""Where one training step spends its time, op by op, on the CPU.

    python benchmarks/profile_step.py --case dcgan28            # batch 64, 5 steps
    python benchmarks/profile_step.py --case wgan28 mlp-gan --steps 10

A printer over ``minigan.autograd.profile``. For each case it prints three tables, per
step (the mean over --steps profiled steps, after --warmup):

* per op type: calls, forward ms, backward ms (a backward counts everything its
  ``backward`` runs, the ops it calls included), and their share of the step;
* per tagged function: the calls and ms of each function that the library tags as
  "product" work (the namespaces' ``product``: every product an op makes) or "mover" work (the
  conv's im2col, col2im and batch-last transposes, ``minigan.ops.movers``);
* per kind of work: GEMM (the products), the conv's pixel movers, the rest of the ops'
  array work (elementwise, reductions, the Python inside ops), the optimizer step, and
  the rest of the step: Python outside the ops (modules, the engine's loop, Tensor
  wrappers, ``zero_grad``).

The profile's timers cost about a microsecond a call; the step time printed is the
profiled one, and the unprofiled median is printed beside it for comparison.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import minigan_steps  # noqa: E402
import numpy as np  # noqa: E402

from minigan.autograd import profile as open_profile  # noqa: E402

# the printer's name for each kind of work the library tags
KIND_NAMES = {"product": "GEMM", "mover": "pixel movers"}
KINDS = ("GEMM", "pixel movers", "other array work in ops", "optimizer", "Python outside ops")


def kinds_of_work(prof):
    """{kind of work: ms over the whole block}, adding up to the block: the tagged work by
    its kind, each op call's time less the tagged work inside it, the rest outside."""
    kinds = dict.fromkeys(KINDS, 0.0)
    # the op calls, whole: forward and backward are ops' work, "other" the optimizer's step
    kinds["other array work in ops"] = sum(s.forward_ms + s.backward_ms
                                           for s in prof.key_averages())
    kinds["optimizer"] = sum(s.other_ms for s in prof.key_averages())
    kinds["Python outside ops"] = prof.total_ms - sum(s.total_ms for s in prof.key_averages())
    for w in prof.work_averages():   # tagged work: out of the call (or the outside) it ran in
        kinds[KIND_NAMES[w.kind]] += w.total_ms
        encloser = {"forward": "other array work in ops", "backward": "other array work in ops",
                    "other": "optimizer", None: "Python outside ops"}[w.phase]
        kinds[encloser] -= w.total_ms
    return kinds


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
    """(unprofiled median ms, the profile of ``steps`` steps) for one case."""
    step = step_fn(case, batch)
    for _ in range(warmup):
        step()
    plain = median_ms(step, steps)
    with open_profile(use_cuda=False) as prof:
        for _ in range(steps):
            step()
    return plain, prof


def report(case, batch, steps, plain, prof):
    total = prof.total_ms / steps
    print(f"\n{case}, batch {batch}: {total:.1f} ms per profiled step "
          f"(unprofiled median {plain:.1f} ms), mean of {steps} steps")
    print(f"{'op':<24} {'calls':>6} {'forward ms':>11} {'backward ms':>12} {'share':>6}")
    for s in prof.key_averages():
        if s.other_ms:   # the optimizer's step: a kind of work of its own, below
            continue
        fwd, bwd = s.forward_ms / steps, s.backward_ms / steps
        print(f"{s.name:<24} {s.calls / steps:6.0f} {fwd:11.2f} {bwd:12.2f} "
              f"{(fwd + bwd) / total:6.1%}")
    print("(an op's forward and backward include the GEMMs and movers it runs)")
    print(f"{'tagged work':<24} {'kind':>8} {'calls':>6} {'ms':>8} {'share':>6}")
    by_name = {}
    for w in prof.work_averages():   # one row per function, whichever phase it ran in
        calls, ms = by_name.get((w.name, w.kind), (0, 0.0))
        by_name[w.name, w.kind] = calls + w.calls, ms + w.total_ms
    for (name, kind), (calls, ms) in sorted(by_name.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:<24} {kind:>8} {calls / steps:6.0f} {ms / steps:8.2f} "
              f"{ms / steps / total:6.1%}")
    print(f"{'kind of work':<26} {'ms':>8} {'share':>6}")
    for kind, ms in kinds_of_work(prof).items():
        print(f"{kind:<26} {ms / steps:8.2f} {ms / steps / total:6.1%}")


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
