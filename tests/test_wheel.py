"""minigan ships its CUDA kernels: ``kernels/*.cu`` and the header they share,
``kernels/common.cuh``, are package data (linked in as ``minigan/kernels``) and
``minigan.cuda`` reads them through importlib.resources, so a wheel, ``pip install .`` or an
editable install has the GPU path as the source tree does.
"""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import minigan
from minigan import cuda

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p.stem for p in (ROOT / "kernels").glob("*.cu"))
SHIPPED = sorted(p.name for p in (ROOT / "kernels").iterdir() if p.suffix in (".cu", ".cuh"))


def test_the_loader_reads_every_kernel_file_through_importlib_resources():
    assert FILES, "no kernels/*.cu"
    assert cuda.kernel_files() == FILES
    common = (ROOT / "kernels" / "common.cuh").read_text()
    for file in FILES:
        text = (ROOT / "kernels" / f"{file}.cu").read_text()
        # common.cuh, then the file, each after the #line that names it
        assert cuda.source(file) == (f'#line 1 "kernels/common.cuh"\n{common.rstrip()}\n'
                                     f'#line 1 "kernels/{file}.cu"\n{text}')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built by pip from a copy of what the build reads (no stale build/ of the tree)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    for name in ("minigan", "kernels"):   # minigan/kernels stays a link to ../kernels
        shutil.copytree(ROOT / name, tree / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(out), str(tree)], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail("pip could not build a wheel of minigan (it needs setuptools>=64 from a "
                    "package index, as `pip install .` does):\n" + build.stdout + build.stderr)
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_holds_every_kernel_where_the_loader_reads_it(wheel):
    # the loader's folder, relative to the folder that holds the package: minigan/kernels
    where = Path(str(cuda.kernel_dir())).relative_to(Path(minigan.__file__).parents[1])
    with zipfile.ZipFile(wheel) as z:
        shipped = sorted(name for name in z.namelist() if name.endswith((".cu", ".cuh")))
        assert "common.cuh" in SHIPPED
        assert shipped == [(where / name).as_posix() for name in SHIPPED]
        for name in SHIPPED:
            assert z.read((where / name).as_posix()) == (ROOT / "kernels" / name).read_bytes()


def test_an_installed_wheel_finds_its_kernels(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                              "--target", str(target), str(wheel)], capture_output=True,
                             text=True)
    assert install.returncode == 0, install.stdout + install.stderr
    # away from the source tree: only the installed copy can answer
    probe = ("import minigan, minigan.cuda as c; print(minigan.__file__); "
             "print(' '.join(c.kernel_files())); print(len(c.source('leaky_relu')))")
    env = dict(os.environ, PYTHONPATH=str(target))
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    package, files, length = run.stdout.split("\n")[:3]
    assert Path(package).parent == target / "minigan"
    assert files.split() == FILES
    assert int(length) == len(cuda.source("leaky_relu"))
