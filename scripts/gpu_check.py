"""The GPU check: the whole GPU path on a real GPU, each part time-bounded, in under 540 s.

    python3 scripts/gpu_check.py              # on a machine with a GPU, from the source tree
    python scripts/gpu_check.py --emulated    # the same parts at toy sizes, emulated GPU

Parts, each a subprocess with a time limit of its own (a part is skipped, not started,
when the budget left is shorter than its limit):
  capture    first, in seconds: one product (our GEMM) and one kernel captured into a CUDA
             graph, replayed on new inputs, against the same launches run eagerly, bit for
             bit; then a three-step CapturedStep against the eager step
  tests      every test marked gpu: the device-parametrized tests and the kernels on the GPU
  step       CPU against GPU, same seed: one dcgan64 training step at batch 128 (its losses,
             every gradient, the BatchNorm statistics); then the float32 GPU step twice,
             bit for bit
  penalties  CPU against GPU: a WGAN-GP critic step and an R1 step, losses and gradients
  train      train_dcgan.py --device cuda --dataset synthetic: 30 steps, --resume to 60, bit
             for bit a straight 60-step run; a second straight run, bit for bit the first
  profile    examples/graph_picture.py --profile: the per-op table of one dcgan28 step,
             timed by CUDA events (into profile.txt beside the log)
  race       benchmarks/gan_step.py on the GPU against PyTorch (the GAN and WGAN-GP steps):
             total, host and CUDA-event GPU time per step, and launches per step
  graph      the captured step (minigan.cuda.CapturedStep): train_dcgan.py --cuda-graph
             against the same run eager, bit for bit, with each one's ms/step; then the
             race of the GAN steps as CUDA graphs, minigan's against PyTorch's

The full log goes to $OUT/gpu_check.log (or --out), the table to $OUT/gpu_check.json and
to the screen. --emulated runs every part on the CPU through tests/cuda_emu (the CuPy
double and our kernels on the emulator): it proves the script, not the GPU.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# NOTE: its child parts live beside it: a script run as a file has this folder on sys.path,
# one loaded by path (as the tests load it) has not
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check_child import TOLERANCE, bit_identical, child  # noqa: E402

# Real sizes, and the toy sizes of an --emulated dry run.
SIZES = {
    False: dict(step=("dcgan64", 128, 64), penalty=(64, 64, 64), train_steps=(30, 60),
                train=["--limit", "4096"],
                race=["--case", "mlp-gan", "dcgan28", "dcgan64", "wgan28", "wgan64",
                      "--batch-for", "mlp-gan=64", "dcgan28=128", "dcgan64=128", "wgan28=64",
                      "wgan64=64", "--repeats", "10"],
                graph_steps=20,
                graph_race=["--case", "dcgan28", "mlp-gan", "dcgan64", "--batch-for",
                            "mlp-gan=64", "dcgan28=128", "dcgan64=128", "--repeats", "5",
                            "--rounds", "2"]),
    True: dict(step=("dcgan28", 4, 4), penalty=(28, 4, 4), train_steps=(2, 4),
               train=["--limit", "64", "--ngf", "8", "--ndf", "8", "--batch-size", "8"],
               race=["--case", "dcgan28", "wgan28", "--batch", "4", "--repeats", "2",
                     "--rounds", "1", "--warmup", "1"],
               graph_steps=4,
               graph_race=["--case", "dcgan28", "--batch", "4", "--repeats", "1", "--rounds",
                           "1", "--warmup", "3"]),
}
LIMITS = dict(capture=15, tests=150, step=60, penalties=40, train=100, profile=20, race=80,
              graph=75)   # s; sum 540


# ---- the parent: run the parts, log everything, print the table ----

class Check:
    def __init__(self, out, budget, emulated):
        self.out, self.emulated = out, emulated
        self.deadline = time.monotonic() + budget
        self.log = open(out / "gpu_check.log", "w")
        self.rows = []
        self.emulator = {}
        if emulated:   # the kernels built for the emulator once, for every part's process
            sys.path.insert(0, str(ROOT / "tests"))
            import cuda_emu
            folder = tempfile.mkdtemp(prefix="gpu_check_emulator")
            self.emulator = {"CUDA_EMU_LIB": cuda_emu.build(folder)}

    def left(self):
        return self.deadline - time.monotonic()

    def python(self, *args):
        """A Python command line: on the emulated GPU, through tests/cuda_emu's runner."""
        prefix = ["-m", "cuda_emu"] if self.emulated else []
        return [sys.executable, *prefix, *map(str, args)]

    def run(self, command, limit, cwd=ROOT):
        """Run one command for at most ``limit`` seconds; (exit code, output). Logged whole."""
        env = dict(os.environ, HYPOTHESIS_PROFILE="ci", PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT)]),
                   **self.emulator)
        self.log.write(f"\n$ {' '.join(command)}   (limit {limit:.0f} s)\n")
        self.log.flush()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
        except OSError as e:   # no such program (nvidia-smi, say)
            self.log.write(f"[cannot start: {e}]\n")
            return "missing", str(e)
        try:
            output, _ = proc.communicate(timeout=max(limit, 1))
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            rc, output = "timeout", output + f"\n[killed after {limit:.0f} s]\n"
        self.log.write(output + f"[exit {rc}, {time.monotonic() - start:.1f} s]\n")
        self.log.flush()
        return rc, output

    def part(self, name, limit, body):
        start = time.monotonic()
        if self.left() < limit:
            self.rows.append(dict(part=name, result="skipped", seconds=0.0,
                                  detail=f"{self.left():.0f} s left, the part may take {limit}"))
            return
        self.log.write(f"\n==== {name}\n")
        try:
            ok, detail = body(start + limit)
        except Exception as e:   # a part that breaks must not stop the others
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.rows.append(dict(part=name, result="ok" if ok else "FAIL",
                              seconds=round(time.monotonic() - start, 1), detail=detail))
        print(f"  {name:<10} {self.rows[-1]['result']:<7} {self.rows[-1]['seconds']:6.1f} s",
              flush=True)
        self.save()   # part by part: a run cut short still leaves what it found

    def save(self):
        (self.out / "gpu_check.json").write_text(json.dumps(self.rows, indent=1) + "\n")

    def until(self, end):
        return max(1.0, end - time.monotonic())

    # ---- the parts ----

    def tests(self, end):
        if self.emulated:   # the same GPU path on the emulator: the suite's emulated cases
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "tests/test_gpu_path.py", "tests/test_kernels.py", "tests/test_optim.py",
                       "tests/test_launch_count.py", "-k", "emulated"]
        else:
            command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                       "-m", "gpu", "tests"]
        return pytest_verdict(*self.run(command, self.until(end)))

    def in_child(self, part, end):
        rc, output = self.run(self.python(Path(__file__), "--child", part,
                                          *(["--emulated"] if self.emulated else [])),
                              self.until(end))
        lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
        if rc != 0 or not lines:
            return False, f"exit {rc}: {output.strip().splitlines()[-1] if output.strip() else ''}"
        result = json.loads(lines[-1][len("RESULT "):])
        if part == "capture":
            return result["ok"], "bit for bit against eager: " + ", ".join(
                f"{name} {ok}" for name, ok in result["checks"].items())
        worst = "; ".join(f"{dtype} worst {result[dtype]['worst'][1]:.1e} "
                          f"({result[dtype]['worst'][0]}, bound {bound:.0e})"
                          for dtype, bound in TOLERANCE.items())
        return result["ok"], (f"{result['what']}, {result['count']} arrays against the CPU in "
                              f"float64: {worst}; float32 GPU twice bit-identical: "
                              f"{result['twice']}")

    def train(self, end):
        sizes = SIZES[self.emulated]
        half, full = sizes["train_steps"]
        # NOTE: checkpoints go to a scratch folder, not to --out: $OUT comes back from a lent GPU
        # and six dcgan28 checkpoints are over 100 MB
        with tempfile.TemporaryDirectory(prefix="gpu_check_train") as scratch:
            return self._train(Path(scratch), half, full, sizes["train"], end)

    def _train(self, work, half, full, size_flags, end):
        common = ["--dataset", "synthetic", "--device", "cuda", "--sample-every", "0",
                  "--log-every", str(half), "--checkpoint-every", str(half), *size_flags]
        script = ROOT / "examples" / "train_dcgan.py"
        runs = [(common + ["--steps", half, "--out", work / "resumed"]),
                (["--resume", "auto", "--steps", full, "--out", work / "resumed",
                  "--device", "cuda"]),
                (common + ["--steps", full, "--out", work / "straight"]),
                (common + ["--steps", full, "--out", work / "again"])]
        for args in runs:
            rc, output = self.run(self.python(script, *args), self.until(end))
            if rc != 0:
                return False, f"train_dcgan {' '.join(map(str, args[-4:]))}: exit {rc}: " + \
                    (output.strip().splitlines() or [""])[-1]
        name = f"checkpoint-{full:07d}.npz"
        resumed, straight, again = (checkpoint_arrays(work / d / name)
                                    for d in ("resumed", "straight", "again"))
        exact, twice = bit_identical(straight, resumed), bit_identical(straight, again)
        return exact and twice, (f"{half} steps + resume to {full} = {full} straight, bit for "
                                 f"bit: {exact} ({len(straight)} arrays); two {full}-step runs "
                                 f"bit-identical: {twice}")

    def profile(self, end):
        batch = "4" if self.emulated else "64"
        with tempfile.TemporaryDirectory(prefix="gpu_check_profile") as scratch:
            rc, output = self.run(self.python(ROOT / "examples" / "graph_picture.py", "--device",
                                              "cuda", "--profile", "--batch", batch,
                                              "--out", scratch), self.until(end))
        table = output[output.find("one dcgan28 training step"):]
        (self.out / "profile.txt").write_text(table)
        rows = [line.split() for line in table.splitlines()[2:5]]
        total = next((line.split()[1] for line in table.splitlines() if line.startswith("total")),
                     None)
        ok = rc == 0 and total is not None and "CUDA events" in table
        top = ", ".join(f"{r[0]} {r[-1]}" for r in rows if r)
        return ok, f"one dcgan28 step, batch {batch}: {total} ms by CUDA events; top: {top}"

    def race(self, end):
        rc, output = self.run(self.python(ROOT / "benchmarks" / "gan_step.py", "--device", "cuda",
                                          *SIZES[self.emulated]["race"]), self.until(end))
        lines = [line for line in output.splitlines()
                 if line.split()[:1] and line.split()[0] in ("mlp-gan", "dcgan28", "dcgan64",
                                                             "wgan28", "wgan64", "launches")]
        return rc == 0, "; ".join(" ".join(line.split()) for line in lines) or "no timings"

    def graph(self, end):
        """train_dcgan.py --cuda-graph against eager, bit for bit; then the graph race."""
        sizes = SIZES[self.emulated]
        steps = sizes["graph_steps"]
        common = ["--dataset", "synthetic", "--device", "cuda", "--sample-every", "0",
                  "--log-every", str(steps), "--checkpoint-every", str(steps), "--steps", steps,
                  *sizes["train"]]
        script, ms = ROOT / "examples" / "train_dcgan.py", {}
        with tempfile.TemporaryDirectory(prefix="gpu_check_graph") as scratch:
            work = Path(scratch)
            for name, flags in (("eager", ["--no-cuda-graph"]), ("graph", ["--cuda-graph"])):
                rc, output = self.run(self.python(script, *common, "--out", work / name, *flags),
                                      self.until(end))
                if rc != 0:
                    return False, f"train_dcgan {name}: exit {rc}: " + \
                        (output.strip().splitlines() or [""])[-1]
                done = [line for line in output.splitlines() if line.startswith("done:")]
                ms[name] = done[-1].split("(")[1].split(")")[0] if done else "?"
            name = f"checkpoint-{steps:07d}.npz"
            eager, graph = (checkpoint_arrays(work / d / name) for d in ("eager", "graph"))
        same = bit_identical(eager, graph)
        rc, output = self.run(self.python(ROOT / "benchmarks" / "gan_step.py", "--device", "cuda",
                                          "--graph", *sizes["graph_race"]), self.until(end))
        lines = [" ".join(line.split()) for line in output.splitlines()
                 if line.split()[:1] and line.split()[0] in ("mlp-gan", "dcgan28", "dcgan64",
                                                             "launches")]
        return same and rc == 0, (f"{steps} steps --cuda-graph = eager, bit for bit: {same} "
                                  f"({len(eager)} arrays; eager {ms['eager']}, graph "
                                  f"{ms['graph']}); race as graphs: " +
                                  ("; ".join(lines) or f"exit {rc}"))

    def table(self):
        print(f"\n{'part':<10} {'result':<7} {'seconds':>7}  detail")
        for row in self.rows:
            print(f"{row['part']:<10} {row['result']:<7} {row['seconds']:7.1f}  {row['detail']}")
        self.save()


def pytest_verdict(rc, output):
    """(ok, pytest's summary line): passed, and nothing skipped, for a test marked gpu skips
    when it sees no GPU."""
    summary = next((line for line in reversed(output.splitlines()) if " in " in line
                    and ("passed" in line or "failed" in line)), "no pytest summary")
    ok = rc == 0 and " passed" in summary and "skipped" not in summary
    return ok, summary.strip("= ")


def checkpoint_arrays(path):
    """Every array of a training checkpoint (models, optimizers, data position, RNGs), by path."""
    import minigan
    from minigan.serialization import leaves
    ckpt = minigan.load(path, map_location="cpu")
    return leaves({k: ckpt[k] for k in ("models", "optimizers", "data", "rng", "step")})


CUDA_VERSIONS = """
import cupy, numpy
r = cupy.cuda.runtime
print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'CUDA driver',
      r.driverGetVersion(), 'runtime', r.runtimeGetVersion(), 'GPUs', r.getDeviceCount())
"""


def device_line(check):
    """(the GPU in words, whether CuPy sees a GPU)."""
    if check.emulated:
        return "emulated GPU (tests/cuda_emu: the CuPy double, kernels on the CPU)", True
    rc, output = check.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                            "--format=csv,noheader"], 20)
    found, cupy = check.run([sys.executable, "-c", CUDA_VERSIONS], 30)
    cupy = cupy.strip().splitlines()[-1] if cupy.strip() else "no output"
    sees_gpu = found == 0 and not cupy.endswith("GPUs 0")
    return f"{output.strip() if rc == 0 else 'nvidia-smi failed'}; {cupy}", sees_gpu


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_check",
                   help="folder for gpu_check.log and gpu_check.json (default: $OUT)")
    p.add_argument("--budget", type=float, default=540, help="seconds for all parts (540)")
    p.add_argument("--parts", nargs="+", choices=list(LIMITS), default=list(LIMITS))
    p.add_argument("--emulated", action="store_true",
                   help="every part at toy sizes on the emulated GPU: a dry run of the script")
    p.add_argument("--child", choices=["capture", "step", "penalties"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, SIZES[args.emulated])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    check = Check(out, args.budget, args.emulated)
    gpu, sees_gpu = device_line(check)
    print(f"GPU check: {gpu}; budget {args.budget:.0f} s; log {out}/gpu_check.log", flush=True)
    if not sees_gpu:   # every part would fail, or skip, for this one reason
        print("GPU check: CuPy sees no GPU; nothing run", flush=True)
        return 1
    bodies = dict(capture=lambda end: check.in_child("capture", end), tests=check.tests,
                  step=lambda end: check.in_child("step", end),
                  penalties=lambda end: check.in_child("penalties", end),
                  train=check.train, profile=check.profile, race=check.race,
                  graph=check.graph)
    for name in args.parts:
        check.part(name, LIMITS[name], bodies[name])
    check.table()
    return 0 if all(row["result"] == "ok" for row in check.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
