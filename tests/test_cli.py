"""examples/cli.py, the command line every training example shares: one line and an exit
code for every error, the hints that name flags, and a library whose messages name none."""
import ast
import sys
from pathlib import Path

import pytest

import minigan
from minigan import training

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import cli  # noqa: E402


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
    """STYLE rule 12: flags are the scripts' business; the library's errors name none."""
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
