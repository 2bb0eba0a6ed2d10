"""examples/train_wgan_gp.py end to end, as a subprocess (in this process where a fresh
process does not matter).

Tiny models (ngf = ndf = 8), batches of 8, n_critic 2 and a few steps on the synthetic
set, so the file runs in seconds on 2 cores. What the outputs look like is
minigan.training's (tested in test_training.py); here: that this script produces them,
with its own columns, and resumes exactly.
"""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import minigan
from minigan.models import Classifier, save_classifier
from script_runs import train_here   # a fixture

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "train_wgan_gp.py"
TINY = ["--dataset", "synthetic", "--limit", "64", "--ngf", "8", "--ndf", "8",
        "--batch-size", "8", "--n-critic", "2", "--device", "cpu", "--log-every", "2"]


def train(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(TRAIN), *TINY, *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


@pytest.fixture
def wgan_here(train_here):
    """``train`` in this process (tests/script_runs.py)."""
    from train_wgan_gp import WGANGP
    return lambda *args, cwd: train_here(*TINY, *args, cwd=cwd, script=WGANGP())


def weights(path):
    ckpt = minigan.load(path)
    return {f"{m}/{k}": np.asarray(v.data if hasattr(v, "data") else v)
            for m, state in ckpt["models"].items() for k, v in state.items()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("wgan")
    result = train("--steps", "4", "--sample-every", "2", "--checkpoint-every", "2",
                   "--out", "out", cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return cwd, result


def test_a_short_run_writes_every_output(finished):
    cwd, result = finished
    out = cwd / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-0000002.npz", "checkpoint-0000004.npz", "losses.png", "metrics.csv",
        "real_samples.png", "samples_000002.png", "samples_000004.png"]
    lines = result.stdout.splitlines()
    assert "wgan-gp28 (nz 100, ngf 8, ndf 8, 1 channel) on cpu: 4 steps of batch 8" in lines[1]
    assert "n_critic 2, λ 10, lr 0.0001" in lines[1]
    assert lines[-1].startswith("done: steps 1-4 in ")
    with Image.open(out / "samples_000004.png") as im:
        assert im.size == (2 * (8 * 30 + 2),) * 2 and im.mode == "L"
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "loss_D", "loss_G", "W", "gp", "seconds"]
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    for r in rows:
        values = [float(r[k]) for k in ("loss_D", "loss_G", "W", "gp")]
        assert np.isfinite(values).all() and float(r["gp"]) >= 0


def test_the_checkpoint_holds_the_critic_and_the_settings(finished):
    cwd, _ = finished
    ckpt = minigan.load(cwd / "out" / "checkpoint-0000004.npz")
    assert ckpt["arch"] == dict(model="wgan-gp", image_size=28, nz=100, ngf=8, ndf=8, nc=1,
                                norm="layer")
    assert ckpt["config"]["n_critic"] == 2 and ckpt["config"]["lambda_gp"] == 10.0
    assert ckpt["config"]["beta1"] == 0.0 and ckpt["config"]["beta2"] == 0.9
    assert "main.3.weight" in ckpt["models"]["D"]   # the LayerNorm's γ, shape (16, 7, 7)
    assert tuple(np.shape(ckpt["models"]["D"]["main.3.weight"])) == (16, 7, 7)


def test_two_steps_and_a_resume_equal_four_steps(finished, tmp_path):
    cwd, _ = finished
    first = train("--steps", "2", "--out", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    again = train("--steps", "4", "--resume", "auto", "--out", "out", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming from out/checkpoint-0000002.npz at step 2" in again.stdout
    resumed = weights(tmp_path / "out" / "checkpoint-0000004.npz")
    straight = weights(cwd / "out" / "checkpoint-0000004.npz")
    assert resumed.keys() == straight.keys()
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)


def test_fid_at_each_checkpoint(tmp_path, wgan_here):
    """--eval-classifier, as in train_dcgan.py: a fid column at the checkpoint steps."""
    classifier = tmp_path / "classifier.npz"
    minigan.manual_seed(0)
    save_classifier(Classifier(width=2, hidden=8), classifier, dataset="synthetic")
    result = wgan_here("--steps", "2", "--sample-every", "0", "--checkpoint-every", "2",
                       "--eval-classifier", classifier, "--eval-samples", "16", "--out", "out",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "out" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "loss_D", "loss_G", "W", "gp", "fid", "seconds"]
    assert rows[0]["fid"] == "" and np.isfinite(float(rows[1]["fid"]))
    assert (tmp_path / "out" / "fid.png").exists()


def test_bad_settings_are_one_line_errors(tmp_path, wgan_here):
    result = wgan_here("--n-critic", "0", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("--n-critic must be at least 1")
    assert not (tmp_path / "out").exists()
