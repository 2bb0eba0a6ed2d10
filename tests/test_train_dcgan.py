"""examples/train_dcgan.py and examples/generate.py end to end: as subprocesses where a
fresh process matters (a resume, Ctrl-C, the outputs a user finds), else in this process.

Tiny models (ngf = ndf = 8), batches of 8 and a few steps on the synthetic set or
generated IDX files, so the whole file runs in well under a minute on 2 cores.
"""
import csv
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import minigan
from helpers import GPUS
from script_runs import (ROOT, TINY, TRAIN, assert_one_line_error, env, run, train,
                         train_here)
from minigan.data import write_idx
from minigan.models import Classifier
from minigan.models.classifier import save_classifier
from minigan.serialization import leaves

GENERATE = ROOT / "examples" / "generate.py"


def params(path):
    """Every array of a checkpoint's models and optimizers, its data position and RNG states."""
    ckpt = minigan.load(path, map_location="cpu")   # a GPU run's too
    return leaves({k: ckpt[k] for k in ("models", "optimizers", "data", "rng")})


def read_metrics(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One short run, shared by the tests that read its outputs."""
    cwd = tmp_path_factory.mktemp("run")
    result = train(*TINY, "--steps", "4", "--sample-every", "2", "--checkpoint-every", "2",
                   "--out", "out", cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return cwd / "out", result


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny untrained classifier checkpoint: its features are enough for a finite FID."""
    path = tmp_path_factory.mktemp("classifier") / "classifier.npz"
    minigan.manual_seed(0)
    save_classifier(Classifier(width=2, hidden=8), path, dataset="synthetic")
    return path


# ---- a run and what it leaves ----

def test_a_short_run_writes_every_output(finished):
    out, result = finished
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-0000002.npz", "checkpoint-0000004.npz", "losses.png", "metrics.csv",
        "real_samples.png", "samples_000002.png", "samples_000004.png"]
    lines = result.stdout.splitlines()
    assert lines[0] == "data: synthetic, 64 images of 1x28x28, from built in"
    assert "dcgan28 (nz 100, ngf 8, ndf 8, 1 channel) on cpu: 4 steps of batch 8" in lines[1]
    progress = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[3] for line in progress] == ["1/4", "2/4", "4/4"]
    for part in ("it/s", "ETA", "loss_D", "loss_G", "D(x)", "D(G(z))"):
        assert part in progress[-1]
    assert lines[-1].startswith("done: steps 1-4 in ")
    # 8×8 grids of 28×28 images with 2-pixel padding, drawn at twice the size.
    for name in ("real_samples.png", "samples_000004.png"):
        with Image.open(out / name) as im:
            assert im.size == (2 * (8 * 30 + 2),) * 2 and im.mode == "L"
    with Image.open(out / "losses.png") as im:
        assert im.format == "PNG"
    rows = read_metrics(out / "metrics.csv")
    assert list(rows[0]) == ["step", "loss_D", "loss_G", "D(x)", "D(G(z))", "seconds"]
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(0 < float(r["D(x)"]) < 1 and float(r["seconds"]) > 0 for r in rows)


def test_the_checkpoint_holds_the_whole_state(finished):
    out, _ = finished
    ckpt = minigan.load(out / "checkpoint-0000004.npz")
    assert ckpt["step"] == 4 and ckpt["arch"] == dict(model="dcgan", image_size=28, nz=100,
                                                      ngf=8, ndf=8, nc=1)
    assert set(ckpt["models"]) == {"G", "D"} and set(ckpt["optimizers"]) == {"G", "D"}
    assert "main.1.running_mean" in ckpt["models"]["G"]          # BatchNorm statistics
    assert ckpt["data"]["epoch"] == 0 and ckpt["data"]["position"] == 4
    assert set(ckpt["rng"]) == {"minigan"}
    assert ckpt["fixed_z"].shape == (64, 100) and ckpt["config"]["steps"] == 4


def test_generate_writes_samples_and_an_interpolation(finished, tmp_path):
    out, _ = finished
    result = run(GENERATE, out, "--n", "10", "--nrow", "5", "--rows", "2", "--frames", "6",
                 "--out", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "step 4 of" in result.stdout
    with Image.open(tmp_path / "generated.png") as im:
        assert im.size == (2 * (5 * 30 + 2), 2 * (2 * 30 + 2))
    with Image.open(tmp_path / "interpolation.png") as im:
        assert im.size == (2 * (6 * 30 + 2), 2 * (2 * 30 + 2))
    assert_one_line_error(run(GENERATE, tmp_path / "none.npz", cwd=tmp_path), "no such file")


def test_help_documents_every_flag(tmp_path, train_here):
    result = train_here("--help", cwd=tmp_path)
    assert result.returncode == 0
    for flag in ("--dataset", "--data-dir", "--image-size", "--batch-size", "--epochs",
                 "--steps", "--lr", "--beta1", "--beta2", "--nz", "--ngf", "--ndf", "--d-steps",
                 "--label-smoothing", "--r1-gamma", "--r1-every", "--device", "--seed", "--out",
                 "--sample-every", "--checkpoint-every", "--resume", "--time-limit",
                 "--eval-classifier", "--eval-samples"):
        assert flag in result.stdout, flag
    assert "{auto,mnist,fashion-mnist,folder,synthetic}" in result.stdout


# ---- resume ----

def test_resume_is_exact(tmp_path, classifier):
    """6 steps in one run equal 3 steps, a resume, and 3 more: every array, bit for bit,
    and the FID at the checkpoints."""
    common = TINY + ["--sample-every", "0", "--d-steps", "2", "--label-smoothing", "0.1",
                     "--checkpoint-every", "3", "--eval-classifier", classifier,
                     "--eval-samples", "16"]
    assert train(*common, "--steps", "6", "--out", "one", cwd=tmp_path).returncode == 0
    first = train(*common, "--steps", "3", "--out", "two", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # --resume auto: the flags left out come from the checkpoint; --steps is the total.
    second = train("--resume", "auto", "--steps", "6", "--out", "two", "--device", "cpu",
                   cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming from two/checkpoint-0000003.npz at step 3" in second.stdout
    # 64 images in batches of 8, k = 2: 4 steps an epoch.
    assert "epoch 1 step 4/6" in second.stdout and "epoch 2 step 6/6" in second.stdout
    a, b = params(tmp_path / "one/checkpoint-0000006.npz"), params(
        tmp_path / "two/checkpoint-0000006.npz")
    assert a.keys() == b.keys() and len(a) > 40
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    drop_time = [{k: v for k, v in r.items() if k != "seconds"}
                 for r in read_metrics(tmp_path / "one/metrics.csv")]
    assert [r["fid"] != "" for r in drop_time] == [False, False, True, False, False, True]
    assert drop_time == [{k: v for k, v in r.items() if k != "seconds"}
                         for r in read_metrics(tmp_path / "two/metrics.csv")]
    # At the total already: nothing to do.
    again = train("--resume", "auto", "--out", "two", "--device", "cpu", cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout


@pytest.mark.slow   # 30 s on the emulator; test_training.py's toy resumes on it quickly
def test_a_gpu_run_resumes_exactly_and_follows_the_cpu(gpu_kind, tmp_path, request):
    """--device cuda, on the emulated GPU (tests/cuda_emu) and on a real one where present:
    models moved to the device, kernels, checkpoints of device arrays and a resume. 4 steps
    equal 2, a resume and 2 more, bit for bit, and stay within rounding of the CPU run."""
    emulated = gpu_kind == "emulated"
    lib = request.getfixturevalue("emulator_lib") if emulated else ""

    def on_gpu(*args):
        prefix = ["-m", "cuda_emu"] if emulated else []
        result = subprocess.run([sys.executable, *prefix, str(TRAIN), *map(str, args)],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path,
                                env=env(CUDA_EMU_LIB=lib, PYTHONPATH=os.pathsep.join(
                                    [str(ROOT / "tests"), str(ROOT)])))
        assert result.returncode == 0, result.stdout + result.stderr
        return result
    common = [a if a != "cpu" else "cuda" for a in TINY] + ["--sample-every", "0",
                                                             "--checkpoint-every", "2"]
    assert "on cuda: 4 steps" in on_gpu(*common, "--steps", "4", "--out", "one").stdout
    on_gpu(*common, "--steps", "2", "--out", "two")
    on_gpu("--resume", "auto", "--steps", "4", "--out", "two", "--device", "cuda")
    cpu = train(*TINY, "--sample-every", "0", "--steps", "4", "--out", "cpu", cwd=tmp_path)
    assert cpu.returncode == 0, cpu.stderr
    a, b, c = (params(tmp_path / f"{out}/checkpoint-0000004.npz") for out in ("one", "two", "cpu"))
    assert a.keys() == b.keys() == c.keys() and len(a) > 40
    for name in a:
        assert np.array_equal(a[name], b[name]), name
        if isinstance(a[name], np.ndarray) and a[name].dtype.kind == "f":
            np.testing.assert_allclose(a[name], c[name], rtol=1e-3, atol=1e-5, err_msg=name)


@pytest.fixture(params=GPUS)
def gpu_kind(request):
    return request.param


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes(tmp_path):
    proc = subprocess.Popen([sys.executable, str(TRAIN), *TINY, "--steps", "500",
                             "--sample-every", "0", "--out", "out"], cwd=tmp_path, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("epoch "):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "stopped by SIGINT after step" in err and err.strip().endswith(
        "continue with --resume auto --out out")
    path, = (tmp_path / "out").glob("checkpoint-*.npz")
    step = int(path.stem.split("-")[1])
    assert 1 <= step < 500 and path.name in err
    rows = read_metrics(tmp_path / "out" / "metrics.csv")
    assert int(rows[-1]["step"]) == step
    done = train("--resume", "auto", "--steps", str(step + 2), "--out", "out", "--device",
                 "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [int(r["step"]) for r in read_metrics(tmp_path / "out" / "metrics.csv")] == list(
        range(1, step + 3))


# ---- guards: one line, exit code 2, no traceback ----

def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    """In process: the script's own step, after the weights are poisoned before step 3."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import cli
    import train_dcgan

    class PoisonedBefore3(train_dcgan.DCGAN):
        def make_step(self, models, optimizers, batches, args, device):
            step = super().make_step(models, optimizers, batches, args, device)

            def poisoned(i):
                if i == 3:
                    for model in models.values():
                        for p in model.parameters():
                            p.data[...] = float("nan")
                return step(i)
            return poisoned

    monkeypatch.chdir(tmp_path)
    argv = [*TINY, "--steps", "6", "--checkpoint-every", "2", "--sample-every", "0",
            "--out", "out"]
    with pytest.raises(SystemExit) as info:
        cli.main(PoisonedBefore3(), argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    assert "step 3: loss_D = nan" in err and "checkpoint-0000002.npz" in err
    assert "lower --lr" in err
    assert sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*")) == [
        "checkpoint-0000002.npz"]


def test_the_time_limit_ends_cleanly_and_says_how_to_continue(tmp_path, train_here):
    result = train_here(*TINY, "--steps", "100", "--time-limit", "0.0001",
                        "--sample-every", "0", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2].startswith("stopped at the time limit (0:00) after step 1 of 100")
    assert lines[-1] == "continue with --resume auto --out out"
    assert (tmp_path / "out" / "checkpoint-0000001.npz").exists()


def test_a_bare_run_twice_starts_the_next_free_folder(tmp_path, train_here):
    first = train_here(*TINY, "--steps", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    second = train_here(*TINY, "--steps", "1", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.splitlines()[0] == (
        f"{os.path.join('runs', 'dcgan')} already holds a run: starting a new one in "
        f"{os.path.join('runs', 'dcgan-2')} (--resume auto continues the other)")
    for name in ("dcgan", "dcgan-2"):
        assert (tmp_path / "runs" / name / "checkpoint-0000001.npz").exists()
    resumed = train_here(*TINY, "--steps", "2", "--resume", "auto", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "runs" / "dcgan" / "checkpoint-0000002.npz").exists()


def test_corrupt_checkpoint(finished, tmp_path, train_here):
    out, _ = finished
    raw = (out / "checkpoint-0000004.npz").read_bytes()
    (tmp_path / "checkpoint-0000009.npz").write_bytes(raw[:len(raw) // 2])
    assert_one_line_error(train_here(*TINY, "--out", tmp_path, "--resume", "auto",
                                     cwd=tmp_path), "checkpoint-0000009.npz is damaged",
                          "delete it")


def test_checkpoint_of_another_architecture(finished, tmp_path, train_here):
    out, _ = finished
    ckpt = out / "checkpoint-0000004.npz"
    assert_one_line_error(
        train_here(*TINY, "--ngf", "16", "--out", tmp_path, "--resume", ckpt, cwd=tmp_path),
        "holds dcgan28 (nz 100, ngf 8, ndf 8, 1 channel) but this run builds dcgan28 "
        "(nz 100, ngf 16, ndf 8, 1 channel)")
    assert_one_line_error(train_here(*TINY, "--image-size", "64", "--out", tmp_path,
                                     "--resume", ckpt, cwd=tmp_path), "builds dcgan64")


def test_a_fresh_run_does_not_overwrite_another(finished, tmp_path, train_here):
    out, _ = finished
    assert_one_line_error(train_here(*TINY, "--out", out, cwd=tmp_path),
                          "already holds a run", "--resume auto")


# ---- options ----

def test_fid_at_each_checkpoint_leaves_training_untouched(finished, classifier, tmp_path):
    """The run of ``finished`` with --eval-classifier: the same losses and weights, plus
    the FID at the checkpoint steps (2 and 4) and fid.png."""
    result = train(*TINY, "--steps", "4", "--sample-every", "2", "--checkpoint-every", "2",
                   "--out", "out", "--eval-classifier", classifier, "--eval-samples", "32",
                   cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FID at each checkpoint: 32 samples vs the 64 synthetic training images" in (
        result.stdout)
    out = tmp_path / "out"
    rows = read_metrics(out / "metrics.csv")
    assert list(rows[0]) == ["step", "loss_D", "loss_G", "D(x)", "D(G(z))", "fid", "seconds"]
    assert [r["fid"] for r in rows][0::2] == ["", ""]
    assert all(np.isfinite(float(r["fid"])) and float(r["fid"]) >= 0 for r in rows[1::2])
    with Image.open(out / "fid.png") as im:
        assert im.format == "PNG"
    plain = read_metrics(finished[0] / "metrics.csv")
    for name in ("loss_D", "loss_G", "D(x)", "D(G(z))"):
        assert [r[name] for r in rows] == [r[name] for r in plain], name
    a, b = params(out / "checkpoint-0000004.npz"), params(finished[0] / "checkpoint-0000004.npz")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_fid_compares_with_the_test_set(classifier, tmp_path, train_here):
    rng = np.random.default_rng(0)
    for split, n in (("train", 16), ("t10k", 20)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.zeros(n, np.uint8))
    result = train_here("--dataset", "fashion-mnist", "--data-dir", tmp_path, "--ngf", "8",
                        "--ndf", "8", "--batch-size", "8", "--steps", "1", "--out", "out",
                        "--device", "cpu", "--eval-classifier", classifier,
                        "--eval-samples", "8", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 samples vs the 20 fashion-mnist test images" in result.stdout
    row, = read_metrics(tmp_path / "out" / "metrics.csv")
    assert np.isfinite(float(row["fid"]))


def test_r1_penalty_is_logged_every_n_steps(tmp_path, train_here):
    result = train_here(*TINY, "--steps", "4", "--r1-gamma", "10", "--r1-every", "2",
                        "--sample-every", "0", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = read_metrics(tmp_path / "out" / "metrics.csv")
    assert [r["r1"] for r in rows][0::2] == ["", ""]
    r1 = [float(r["r1"]) for r in rows[1::2]]
    assert all(np.isfinite(v) and v > 0 for v in r1)


def test_folder_of_rgb_images_at_64(tmp_path, train_here):
    rng = np.random.default_rng(0)
    (tmp_path / "faces").mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(
            tmp_path / "faces" / f"{i}.jpg")
    result = train_here("--dataset", "folder", "--data-dir", "faces", "--image-size", "64",
                        "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--steps", "2",
                        "--out", "out", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "data: folder, 6 images of 3x64x64" in result.stdout
    with Image.open(tmp_path / "out" / "samples_000002.png") as im:
        assert im.mode == "RGB" and im.size == (8 * 66 + 2, 8 * 66 + 2)


def test_auto_finds_idx_files_in_data_dir(tmp_path, train_here):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz",
              rng.integers(0, 256, (16, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 16, dtype=np.uint8))
    result = train_here("--data-dir", tmp_path, "--ngf", "8", "--ndf", "8", "--batch-size",
                        "8", "--steps", "1", "--out", "out", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"data: mnist, 16 images of 1x28x28, from {tmp_path}" in result.stdout
