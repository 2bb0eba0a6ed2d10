"""A/B: one minigan step from two source trees, each in processes of its own, on the CPU.

    git worktree add /tmp/base <commit>       # the tree to compare against
    python benchmarks/ab_step.py /tmp/base . --case dcgan28 wgan28 mlp-gan

For each case, each round starts a fresh process per tree (which tree goes first
alternates), builds that tree's step (benchmarks/minigan_steps.py in the tree), warms
up, and times --steps steps; a tree's time is the median over its rounds of their
medians, and B/A is the ratio of the two (below 1: B is faster). It prints the CPU and
the load average before and after: run it on an idle machine. This is how the levers of
a change are measured against each other; against PyTorch, use gan_step.py.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def worker(tree, case, batch, steps, warmup):
    """Print the median ms of ``steps`` steps of ``case`` built from ``tree``'s sources."""
    tree = os.path.abspath(tree)
    sys.path[:0] = [tree, os.path.join(tree, "benchmarks")]
    import minigan
    import minigan_steps
    if not minigan.__file__.startswith(tree):
        sys.exit(f"ab_step: imported minigan from {minigan.__file__}, not from {tree}")
    step = minigan_steps.build(case, batch, "cpu")[0]
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    print(statistics.median(times))


def timed(tree, case, args):
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", tree,
                             "--case", case, "--batch", str(args.batch), "--steps",
                             str(args.steps), "--warmup", str(args.warmup)],
                            capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"ab_step: the {tree} worker failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.split()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", nargs="?", help="source tree A (the base)")
    p.add_argument("b", nargs="?", help="source tree B")
    p.add_argument("--case", nargs="+", default=["dcgan28"],
                   choices=["mlp-gan", "dcgan28", "dcgan64", "wgan28", "wgan64"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=7, help="timed steps per process (7)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.case[0], args.batch, args.steps, args.warmup)
    if not (args.a and args.b):
        p.error("give two source trees, A and B")
    from gan_step import cpu_name
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; A {args.a}, B {args.b}; "
          f"{args.rounds} rounds of {args.steps} steps; load average {os.getloadavg()[0]:.1f}")
    for case in args.case:
        ms = ([], [])   # A's and B's round medians
        for n in range(args.rounds):
            for k in (0, 1) if n % 2 == 0 else (1, 0):
                ms[k].append(timed((args.a, args.b)[k], case, args))
        a, b = (statistics.median(m) for m in ms)
        print(f"{case:<8} A {a:7.1f} ms  B {b:7.1f} ms  B/A {b / a:.3f}  "
              f"(rounds A {min(ms[0]):.1f}-{max(ms[0]):.1f}, "
              f"B {min(ms[1]):.1f}-{max(ms[1]):.1f})", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
