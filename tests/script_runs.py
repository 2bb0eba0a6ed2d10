"""Running examples/train_dcgan.py in a test: as a subprocess (``train``: the script as a
user starts it), or in this process (the ``train_here`` fixture: no interpreter to start,
a tenth of the time, for runs whose point is not a fresh process); the other examples in
this process too (``example_here``)."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "train_dcgan.py"
# Tiny models (ngf = ndf = 8), batches of 8 on 64 images of the synthetic set.
TINY = ["--dataset", "synthetic", "--limit", "64", "--ngf", "8", "--ndf", "8",
        "--batch-size", "8", "--device", "cpu", "--log-every", "2"]


def env(**extra):
    e = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.update(extra)
    return e


def run(script, *args, cwd, timeout=120, **extra_env):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env(**extra_env), cwd=cwd)


def train(*args, cwd, **extra_env):
    return run(TRAIN, *args, cwd=cwd, **extra_env)


@pytest.fixture
def train_here(monkeypatch, capsys):
    """``train`` in this process: examples/train_dcgan.py's main (or ``script``'s, a
    TrainingScript of examples/) with these flags, in ``cwd``; a CompletedProcess of its
    exit code and what it printed. A traceback here is an exception, which fails the test."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import cli
    from train_dcgan import DCGAN

    def run_here(*args, cwd, script=None):
        monkeypatch.chdir(cwd)
        return _completed(lambda: cli.main(script or DCGAN(), list(map(str, args))), args,
                          capsys)
    return run_here


@pytest.fixture
def example_here(monkeypatch, capsys):
    """An example of examples/ that is not a TrainingScript (train_classifier, generate,
    evaluate) in this process, as ``train_here``: ``cli.run`` of its main with these flags,
    in ``cwd``; a CompletedProcess of its exit code and what it printed."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import cli

    def run_here(name, *args, cwd):
        main = importlib.import_module(name).main
        monkeypatch.chdir(cwd)
        return _completed(lambda: cli.run(main, list(map(str, args))), args, capsys)
    return run_here


def _completed(call, args, capsys):
    """``call()`` as a CompletedProcess: its exit code (0 when it returns) and what it printed."""
    try:
        call()
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def snapshot(folder):
    """Every path under ``folder``, with its bytes (None for a folder): the same before and
    after a run that must make, and overwrite, nothing."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
            for path in sorted(folder.rglob("*"))}


def assert_one_line_error(result, *parts):
    """Exit code 2 and one line on stderr, no traceback, holding each of ``parts``."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]
