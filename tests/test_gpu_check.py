"""scripts/gpu_check.py, the script a lent GPU runs, as a dry run on the emulated GPU.

Every part but the nested test run (the suite it would run is this one) goes through the
same code as on a GPU, at toy sizes: the CPU-against-GPU comparisons, the training run with
its resume, the benchmarks with CUDA-event timing, the log and the table. The dry runs take
minutes on the emulator, so they are marked slow (`pytest -m slow`, which CI runs).
"""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import minigan

ROOT = Path(__file__).resolve().parents[1]


def gpu_check(out, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--emulated",
                           "--out", str(out), *args], capture_output=True, text=True,
                          timeout=300, cwd=out)


@pytest.mark.slow
def test_the_gpu_check_runs_every_part_on_the_emulated_gpu(tmp_path):
    result = gpu_check(tmp_path, "--parts", "capture", "step", "penalties", "train", "profile",
                       "race", "graph")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [(r["part"], r["result"]) for r in rows] == [
        ("capture", "ok"), ("step", "ok"), ("penalties", "ok"), ("train", "ok"),
        ("profile", "ok"), ("race", "ok"), ("graph", "ok")]
    details = {r["part"]: r["detail"] for r in rows}
    assert details["capture"] == ("bit for bit against eager: replay True, new inputs True, "
                                  "CapturedStep True"), details["capture"]
    assert "--cuda-graph = eager, bit for bit: True" in details["graph"], details["graph"]
    assert "launches per step" in details["graph"] and "launches per step" in details["race"]
    assert "bit-identical: True" in details["step"] and "bit for bit: True" in details["train"]
    assert "host" in details["race"] and "GPU" in details["race"]
    assert re.search(r"ms by CUDA events; top: ([\w.]+ [\d.]+%(, )?){3}$", details["profile"]), \
        details["profile"]
    assert "CUDA events" in (tmp_path / "profile.txt").read_text()
    log = (tmp_path / "gpu_check.log").read_text()
    assert "train_dcgan.py" in log and "resuming from" in log
    table = result.stdout.splitlines()[-len(rows):]
    assert [line.split()[:2] for line in table] == [[r["part"], "ok"] for r in rows]


@pytest.mark.slow
def test_a_part_without_the_time_it_may_take_is_skipped_and_reported(tmp_path):
    # 100 s left: train (up to 120 s) is not started, step (up to 70 s) runs; the exit code says so
    result = gpu_check(tmp_path, "--budget", "100", "--parts", "train", "step")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [(r["part"], r["result"]) for r in rows] == [("train", "skipped"), ("step", "ok")]


@pytest.mark.skipif(minigan.gpu_available(), reason="a GPU is present")
def test_without_a_gpu_the_real_check_runs_nothing_and_says_why(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"),
                             "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CuPy sees no GPU; nothing run" in result.stdout
    assert not (tmp_path / "gpu_check.json").exists()


def test_the_gpu_tests_pass_only_when_every_one_ran():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    verdict = script.pytest_verdict
    assert verdict(0, "...\n185 passed, 531 deselected in 90.1s\n") == (
        True, "185 passed, 531 deselected in 90.1s")
    assert not verdict(0, "===== 185 skipped, 531 deselected in 3.0s =====")[0]
    assert not verdict(0, "== 180 passed, 5 skipped, 531 deselected in 80.0s ==")[0]
    assert not verdict(1, "== 1 failed, 184 passed, 531 deselected in 80.0s ==")[0]
    assert verdict(0, "Traceback ...") == (False, "no pytest summary")
