"""benchmarks/gan_step.py on the CPU at toy sizes, as a subprocess: a row per case, read
back by its columns (case, batch, minigan ms, PyTorch ms, ratio, min-max, then RSS in MB
once built and at peak, minigan's and PyTorch's).

The runs of gan_step.py and ab_step.py are marked slow (a process each, PyTorch's import,
rounds of steps: seconds apiece): `pytest -m slow` runs them, as CI does."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--batch", "4", "--rounds", "2", "--repeats", "1", "--warmup", "1", "--threads", "1"]


def run(*args):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gan_step.py"), *TINY,
                             *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "threads per library: 1" in result.stdout
    return result.stdout


def benchmark(*args):
    """{case: its row's columns}, from a run of gan_step.py with ``args``."""
    return {line.split()[0]: line.split() for line in run(*args).splitlines()
            if line.split()[:1] and line.split()[0] in ("mlp-gan", "wgan28")}


@pytest.mark.slow
def test_the_floor_is_the_steps_flops_over_this_machines_gemm_rate():
    """A header line with the vector width, the BLAS kernel and the GEMM rate; under each
    case, its FLOPs (2 x the multiply-adds of its products), the floor they make at that
    rate, and the step as a multiple of it."""
    lines = run("--case", "mlp-gan", "--only", "minigan").splitlines()
    head = next(line for line in lines if line.startswith("CPU vector width: "))
    assert head.split(": ")[1].split(";")[0] in ("AVX-512", "AVX2", "?")
    rate = float(head.rsplit(": ", 1)[1].split()[0])
    floor = next(line for line in lines if line.startswith("  floor: "))
    gflop, rest = floor.split("floor: ")[1].split(" GFLOP / ")
    # mlp-gan at batch 4, in multiply-adds per sample: G's layers (100-128-...-784) and D's
    # (784-512-256-1). G forward once, D forward three times; each D backward takes every
    # gW and every gx but the first layer's, except the one that reaches G (all of its gx);
    # G's backward every gW and every gx but the first's (z needs none)
    g = 100 * 128 + 128 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784
    d = 784 * 512 + 512 * 256 + 256 * 1
    macs = g + 3 * d + 2 * (2 * d - 784 * 512) + 2 * d + (2 * g - 100 * 128)
    assert float(gflop) == pytest.approx(2 * 4 * macs / 1e9, abs=0.006)
    assert rest.startswith(f"{rate:.0f} GFLOP/s = ")
    floor_ms = float(rest.split(" = ")[1].split()[0])
    # NOTE: printed to 0.05 ms from the unrounded FLOPs and rate; recomputed from the printed
    # ones (to 0.005 GFLOP and 0.5 GFLOP/s), which at a loaded machine's low rate move it more
    rounding = 0.05 + (0.005 + float(gflop) * 0.5 / rate) / rate * 1e3
    assert floor_ms == pytest.approx(float(gflop) / rate * 1e3, abs=rounding)
    assert float(floor.rsplit("minigan ", 1)[1].rstrip("x")) > 1


@pytest.mark.slow
def test_minigan_alone_gets_a_time_and_its_memory():
    rows = benchmark("--case", "mlp-gan", "wgan28", "--only", "minigan")
    assert set(rows) == {"mlp-gan", "wgan28"}
    for case, batch, ours, theirs, ratio, spread, built, peak, *torch_mb in rows.values():
        assert batch == "4" and float(ours) > 0
        assert (theirs, ratio, spread) == ("-", "n/a", "n/a")
        assert 0 < float(built) <= float(peak)
        assert torch_mb == ["-", "-"]


@pytest.mark.slow
def test_against_pytorch_the_ratio_lies_within_the_rounds_ratios():
    pytest.importorskip("torch")
    (case, batch, ours, theirs, ratio, spread, *memory), = benchmark("--case", "wgan28").values()
    low, high = map(float, spread.split("-"))
    assert float(ours) > 0 and float(theirs) > 0
    assert low <= float(ratio) <= high
    assert all(float(mb) > 0 for mb in memory)


def test_profile_accounts_for_the_whole_step():
    """benchmarks/profile_step.py: a row per op type, a row per tagged function (products and
    movers), and the kinds of work, whose GEMM and movers are those rows' sums, add up to
    the profiled step's time."""
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_step.py"),
                             "--case", "dcgan28", "--batch", "4", "--steps", "2",
                             "--warmup", "1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    step_ms = float(next(line for line in lines if "per profiled step" in line)
                    .split(": ")[1].split()[0])
    ops = {line.split()[0]: line.split() for line in lines
           if line.split()[:1] and line.split()[0] in ("Conv2d", "ConvTranspose2d", "BatchNorm")}
    assert set(ops) == {"Conv2d", "ConvTranspose2d", "BatchNorm"}
    assert all(float(row[2]) > 0 and float(row[3]) > 0 for row in ops.values())  # fwd, bwd
    start = next(i for i, l in enumerate(lines) if l.startswith("tagged work"))
    end = next(i for i, l in enumerate(lines) if l.startswith("kind of work"))
    tagged = {line.split()[0]: line.split() for line in lines[start + 1:end]}
    # every product goes through the namespace's product; a conv's pixels through the movers
    assert {"product", "im2col", "col2im", "to_batch_last"} <= set(tagged)
    assert {row[1] for row in tagged.values()} == {"product", "mover"}
    kinds = {}
    for line in lines[end + 1:]:
        name, ms, _share = line.rsplit(None, 2)
        kinds[name] = float(ms)
    assert set(kinds) == {"GEMM", "pixel movers", "other array work in ops", "optimizer",
                          "Python outside ops"}
    assert min(kinds["GEMM"], kinds["pixel movers"], kinds["optimizer"]) > 0
    for kind, name in (("product", "GEMM"), ("mover", "pixel movers")):   # printed to 0.01 ms
        rows = [float(row[3]) for row in tagged.values() if row[1] == kind]
        assert sum(rows) == pytest.approx(kinds[name], abs=0.01 * len(rows))
    assert sum(kinds.values()) == pytest.approx(step_ms, rel=0.02)


@pytest.mark.slow
def test_ab_step_times_two_trees_and_gives_their_ratio():
    """benchmarks/ab_step.py with this tree as both A and B, at toy sizes: a row per case
    whose B/A is B's median over A's."""
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ab_step.py"),
                             str(ROOT), str(ROOT), "--case", "mlp-gan", "--batch", "4",
                             "--rounds", "2", "--steps", "1", "--warmup", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("mlp-gan"))
    a, b, ratio = (float(row.split(key)[1].split()[0]) for key in (" A ", " B ", "B/A "))
    # the times are printed to 0.05 ms, the ratio to 0.0005, from the unrounded times
    assert a > 0 and b > 0
    assert ratio == pytest.approx(b / a, abs=b / a * (0.05 / a + 0.05 / b) + 0.0005)
    assert "load average after" in result.stdout
