"""examples/cli.py, the command line every training example shares: one line and an exit
code for every error, the hints that name flags, and a library whose messages name none."""
import ast
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan
from minigan import training
from minigan.data import write_idx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import cli  # noqa: E402
from script_runs import (TINY, assert_one_line_error, example_here, snapshot,  # noqa: E402
                         train_here)


def exit_of(error, capsys):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as info:
        cli.run(main)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err   # one line, no traceback
    return info.value.code, err


def test_a_library_error_is_one_line_with_the_hint_in_flags(capsys):
    code, err = exit_of(training.RunExists("runs/x already holds a run (checkpoint-0000002.npz)"),
                        capsys)
    assert code == 2
    assert err.endswith("error: runs/x already holds a run (checkpoint-0000002.npz); continue "
                        "it with --resume auto, or pass another --out (or delete its "
                        "checkpoints to start afresh)\n")


def test_an_interrupt_exits_130_with_how_to_continue(capsys):
    code, err = exit_of(training.Interrupted("stopped by SIGINT after step 3: wrote c.npz"),
                        capsys)
    assert code == 130 and err.endswith("after step 3: wrote c.npz; continue with --resume "
                                        "auto\n")
    code, err = exit_of(KeyboardInterrupt(), capsys)
    assert code == 130 and err.endswith("interrupted\n")


def test_usage_errors_and_data_errors_are_one_line(capsys):
    assert exit_of(cli.UsageError("--lr must be positive"), capsys)[0] == 2
    assert exit_of(minigan.data.DatasetError("x does not exist"), capsys)[0] == 2


def test_a_bug_is_not_hidden():
    def main(argv):
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        cli.run(main)


def test_every_library_error_has_a_hint():
    kinds = [k for k in vars(training).values() if isinstance(k, type)
             and issubclass(k, training.TrainingError) and k is not training.TrainingError]
    assert len(kinds) >= 6
    for kind in kinds:
        assert cli.with_hint(kind("what is wrong")).startswith("what is wrong; "), kind


@pytest.mark.skipif(minigan.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_usage_error():
    assert cli.resolve_device("auto") == "cpu"
    with pytest.raises(cli.UsageError, match="use --device cpu"):
        cli.resolve_device("cuda")


def _raised_strings(path):
    """Every string constant inside a ``raise`` statement of a source file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    yield sub.lineno, sub.value


def test_the_library_names_no_command_line_flag_in_its_errors():
    """Flags are the scripts' business; the library's errors name none."""
    found = [f"{path.relative_to(ROOT)}:{line}: {text!r}"
             for path in sorted((ROOT / "minigan").rglob("*.py"))
             for line, text in _raised_strings(path) if " --" in f" {text}" and
             any(c.isalpha() for c in text.split("--", 1)[1][:1])]
    assert not found, "\n".join(found)


SHARED = ("--dataset", "--data-dir", "--limit", "--batch-size", "--steps", "--epochs", "--lr",
          "--beta1", "--beta2", "--nz", "--device", "--seed", "--out", "--sample-every",
          "--checkpoint-every", "--time-limit", "--log-every", "--eval-classifier",
          "--eval-samples", "--resume")


@pytest.mark.parametrize("name", ["train_gan", "train_dcgan", "train_wgan_gp"])
def test_every_training_example_takes_the_same_flags_and_the_aliases(name, capsys):
    script = next(v for v in vars(__import__(name)).values()
                  if isinstance(v, type) and issubclass(v, cli.TrainingScript)
                  and v is not cli.TrainingScript)()
    with pytest.raises(SystemExit):
        cli.parse(script, ["--help"])
    text = capsys.readouterr().out
    for flag in SHARED:
        assert flag in text, (name, flag)
    args = cli.parse(script, ["--b1", "0.3", "--b2", "0.8", "--latent-dim", "7"])
    assert (args.beta1, args.beta2, args.nz) == (0.3, 0.8, 7)
    assert cli.parse(script, ["--beta1", "0.3"]).beta1 == 0.3


# ---- bad input, as a new user types it: one line, exit code 2, nothing left behind ----
# examples/train_dcgan.py's main, run in this process (tests/script_runs.py)

def test_an_out_that_cannot_be_made_is_one_line(tmp_path, train_here):
    (tmp_path / "README.md").write_text("a file")
    result = train_here("--out", "README.md", cwd=tmp_path)
    line = assert_one_line_error(result, "README.md cannot be a run folder: it is a file")
    assert line.endswith("; pass --out a folder, or the name of one to make") and not result.stdout
    assert_one_line_error(train_here("--out", "README.md/run", cwd=tmp_path),
                          "it is under a file", "pass --out a folder")


def test_settings_are_checked_before_a_run_folder_is_chosen(tmp_path, train_here):
    (tmp_path / "runs" / "dcgan").mkdir(parents=True)
    (tmp_path / "runs" / "dcgan" / "checkpoint-0000001.npz").write_bytes(b"a run's")
    result = train_here(*TINY, "--batch-size", "0", cwd=tmp_path)
    assert assert_one_line_error(result).endswith("error: --batch-size must be at least 1")
    assert result.stdout == "" and not (tmp_path / "runs" / "dcgan-2").exists()


def test_wrong_data_dir(tmp_path, train_here):
    result = train_here("--data-dir", tmp_path / "missing", "--out", "out", cwd=tmp_path)
    assert_one_line_error(result, "missing does not exist", "--data-dir")
    assert "data_dir" not in result.stderr.replace(str(tmp_path), "")   # a keyword, not a flag
    assert not (tmp_path / "out").exists()   # a run that fails before its first file
    assert_one_line_error(train_here("--dataset", "mnist", "--data-dir", tmp_path,
                                     cwd=tmp_path),
                          "holds no train-images-idx3-ubyte", "pass the folder that holds them")


def test_cuda_graph_on_a_cpu_is_one_line_and_no_cuda_graph_runs(tmp_path, train_here):
    assert_one_line_error(train_here(*TINY, "--steps", "1", "--device", "cpu", "--cuda-graph",
                                     cwd=tmp_path), "--cuda-graph needs a GPU")
    result = train_here(*TINY, "--steps", "1", "--device", "cpu", "--no-cuda-graph",
                        "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_corrupt_idx_file(tmp_path, train_here):
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(20, np.uint8))
    raw = bytes([0, 0, 8, 3]) + np.array([20, 28, 28], ">u4").tobytes() + bytes(100)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw)
    assert_one_line_error(train_here("--dataset", "mnist", "--data-dir", tmp_path,
                                     cwd=tmp_path),
                          "train-images-idx3-ubyte: header says 20x28x28 = 15680 bytes but "
                          "the file has 100", "replace the file")


@pytest.mark.skipif(minigan.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_cupy_or_gpu(tmp_path, train_here):
    assert_one_line_error(train_here("--device", "cuda", cwd=tmp_path),
                          "device 'cuda' requested", "--device cpu")


def test_bad_numbers(tmp_path, train_here):
    assert_one_line_error(train_here(*TINY, "--label-smoothing", "1", cwd=tmp_path),
                          "--label-smoothing")
    assert_one_line_error(train_here(*TINY, "--batch-size", "100", cwd=tmp_path),
                          "64 images make no step")


def test_bad_eval_classifier(tmp_path, train_here):
    assert_one_line_error(train_here(*TINY, "--eval-classifier", "none.npz", cwd=tmp_path),
                          "none.npz: no such file", "--eval-classifier takes a checkpoint")
    minigan.save({"models": {"G": {}}}, tmp_path / "checkpoint-0000004.npz")   # a GAN's
    assert_one_line_error(train_here(*TINY, "--eval-classifier", "checkpoint-0000004.npz",
                                     "--out", "out", cwd=tmp_path),
                          "is not a classifier checkpoint")
    assert_one_line_error(train_here(*TINY, "--eval-samples", "1", cwd=tmp_path),
                          "--eval-samples")


# Each flag out of its range: one line before a run folder is chosen (runs/dcgan holds a
# run, so a chosen folder would be runs/dcgan-2, announced on stdout), nothing made.
OUT_OF_RANGE = [
    (("--sample-every", "-1"), "--sample-every must be at least 0"),
    (("--checkpoint-every", "-3"), "--checkpoint-every must be at least 0"),
    (("--time-limit", "nan"), "--time-limit must be a positive number"),
    (("--time-limit", "0"), "--time-limit must be a positive number"),
    (("--lr", "nan"), "--lr must be a positive number"),
    (("--lr", "inf"), "--lr must be a positive number"),
    (("--r1-gamma", "nan"), "--r1-gamma must be a number, at least 0"),
    (("--beta1", "2"), "--beta1 must be in [0, 1)"),
    (("--beta2", "-1"), "--beta2 must be in [0, 1)"),
    (("--beta2", "nan"), "--beta2 must be in [0, 1)"),
    (("--limit", "-5"), "--limit must be at least 1"),
    (("--limit", "0"), "--limit must be at least 1"),
    (("--log-every", "0"), "--log-every must be at least 1"),
    (("--cuda-graph",), "--cuda-graph needs a GPU"),    # TINY runs on the CPU
    (("--eval-classifier", "missing.npz"), "missing.npz: no such file; --eval-classifier takes"),
    (("--out", ""), "--out is empty"),
    (("--lambda-gp", "nan"), "--lambda-gp must be a number, at least 0"),
]


@pytest.mark.parametrize("flags, message", OUT_OF_RANGE,
                         ids=[" ".join(f) for f, _ in OUT_OF_RANGE])
def test_a_setting_out_of_range_is_one_line_before_anything_is_made(flags, message, tmp_path,
                                                                    train_here):
    from train_wgan_gp import WGANGP
    (tmp_path / "runs" / "dcgan").mkdir(parents=True)
    (tmp_path / "runs" / "dcgan" / "checkpoint-0000001.npz").write_bytes(b"a run's")
    (tmp_path / "runs" / "wgan_gp").mkdir()
    (tmp_path / "runs" / "wgan_gp" / "checkpoint-0000001.npz").write_bytes(b"a run's")
    before = snapshot(tmp_path)
    script = WGANGP() if flags[0] == "--lambda-gp" else None
    result = train_here(*TINY, *flags, cwd=tmp_path, script=script)
    assert_one_line_error(result, f"error: {message}")
    assert result.stdout == ""   # no run folder chosen, no data read
    assert snapshot(tmp_path) == before


def test_adams_message_names_no_keyword():
    p = minigan.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"^Adam: betas must be in \[0, 1\), got \(2.0, 0.999\)$"):
        minigan.optim.Adam([p], betas=(2.0, 0.999))
    with pytest.raises(ValueError, match=r"^Adam: the learning rate and eps must be at least 0, "
                                         r"got nan and 1e-08$"):
        minigan.optim.Adam([p], lr=float("nan"))


def test_a_data_dir_that_is_a_file(tmp_path, train_here):
    (tmp_path / "README.md").write_text("a file")
    before = snapshot(tmp_path)
    result = train_here("--data-dir", "README.md", "--out", "out", cwd=tmp_path)
    line = assert_one_line_error(result, "README.md is not a folder; pass --data-dir the folder "
                                 "that holds the dataset, or leave out --data-dir to search "
                                 "the usual places")
    assert "does not exist" not in line and "none" not in line and "data_dir" not in line
    assert snapshot(tmp_path) == before


# ---- examples/train_classifier.py, generate.py and evaluate.py: the same rules ----

@pytest.fixture
def idx_dir(tmp_path):
    """A tiny MNIST in tmp_path/data: 64 training and 40 test images; and a README.md."""
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    for split, n in (("train", 64), ("t10k", 40)):
        write_idx(tmp_path / "data" / f"{split}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / "data" / f"{split}-labels-idx1-ubyte.gz",
                  rng.integers(0, 10, n).astype(np.uint8))
    (tmp_path / "README.md").write_text("a file")
    return tmp_path / "data"


TINY_CLASSIFIER = ["--dataset", "mnist", "--data-dir", "data", "--epochs", "1", "--batch-size",
                   "16", "--width", "2", "--hidden", "4", "--device", "cpu"]
CLASSIFIER_ERRORS = [
    (("--out", "README.md"), "README.md exists and is not a classifier checkpoint"),
    (("--out", "README.md/x.npz"), "README.md cannot be the checkpoint's folder: it is a file"),
    (("--out", "data"), "data is a folder; --out takes the checkpoint's path"),
    (("--out", ""), "--out is empty"),
    (("--batch-size", "1000", "--out", "c/x.npz"), "64 training images are fewer than one batch"),
    (("--batch-size", "1"), "--batch-size must be at least 2"),
    (("--width", "0"), "--width must be at least 1"),
    (("--hidden", "0"), "--hidden must be at least 1"),
    (("--dropout", "2"), "--dropout must be in [0, 1)"),
    (("--lr", "-1"), "--lr must be a positive number"),
    (("--limit", "-5"), "--limit must be at least 1"),
    (("--log-every", "0"), "--log-every must be at least 1"),
    (("--epochs", "0"), "--epochs must be at least 1"),
]


@pytest.mark.parametrize("flags, message", CLASSIFIER_ERRORS,
                         ids=[" ".join(f) for f, _ in CLASSIFIER_ERRORS])
def test_train_classifier_bad_input_is_one_line_and_makes_nothing(flags, message, idx_dir,
                                                                  example_here):
    before = snapshot(idx_dir.parent)
    result = example_here("train_classifier", *TINY_CLASSIFIER, *flags, cwd=idx_dir.parent)
    assert_one_line_error(result, message)
    assert snapshot(idx_dir.parent) == before   # no runs/, no c/, README.md as it was


def test_train_classifier_replaces_its_own_checkpoint_and_reads_the_registry(idx_dir,
                                                                             example_here):
    import train_classifier
    assert train_classifier.LABELED == ("mnist", "fashion-mnist")   # sources with a test split
    for _ in range(2):   # the second run replaces the first's checkpoint
        result = example_here("train_classifier", *TINY_CLASSIFIER, "--out", "c/x.npz",
                              cwd=idx_dir.parent)
        assert result.returncode == 0 and result.stderr == "", result.stderr
    assert minigan.models.load_classifier(idx_dir.parent / "c" / "x.npz").meta["epochs"] == 1


@pytest.mark.parametrize("out, message", [
    ("README.md", "README.md cannot be an output folder: it is a file"),
    ("README.md/x", "README.md/x cannot be an output folder: it is under a file"),
    ("", "an empty path cannot be an output folder")])
def test_generate_out_that_cannot_be_made(out, message, idx_dir, example_here):
    before = snapshot(idx_dir.parent)
    result = example_here("generate", "missing", "--out", out, cwd=idx_dir.parent)
    assert_one_line_error(result, message, "pass --out a folder")
    assert snapshot(idx_dir.parent) == before


@pytest.mark.parametrize("flags, message", [
    (("--json", "README.md/x.json"), "README.md cannot be the JSON file's folder: it is a file"),
    (("--json", "data"), "--json 'data' is not a file's path"),
    (("--batch-size", "0"), "--batch-size must be at least 1"),
    (("--num-samples", "0"), "--num-samples must be at least 2"),
    (("--num-samples", "-3"), "--num-samples must be at least 2"),
    (("--dataset", "synthetic"), "synthetic has no labeled test split; --dataset takes one of "
                                 "mnist, fashion-mnist")])
def test_evaluate_bad_input_is_one_line_before_the_scoring(flags, message, idx_dir,
                                                           example_here):
    folder = idx_dir.parent
    minigan.manual_seed(0)
    minigan.save({"models": {"G": minigan.models.DCGANGenerator(28, nz=4, ngf=2).state_dict()}},
                 folder / "g.npz")
    minigan.models.save_classifier(minigan.models.Classifier(width=2, hidden=3),
                                   folder / "c.npz", dataset="mnist")
    before = snapshot(folder)
    result = example_here("evaluate", "--generator", "g.npz", "--classifier", "c.npz",
                          "--data-dir", "data", "--num-samples", "4", "--device", "cpu", *flags,
                          cwd=folder)
    assert_one_line_error(result, message)
    assert result.stdout == "" and snapshot(folder) == before   # nothing scored or written
