"""docs/pictures: every picture of the tour is drawn from what minigan computes now, and a
change to its script or to what it shows makes it stale (as the quotes go stale)."""
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import pictures  # noqa: E402

NAMES = ["batchnorm_paths.png", "conv1d_band.png", "engine_values.png", "im2col.png",
         "r1_step.png"]                                     # the pages' diagrams
EVERY = sorted(m.IMAGE for m in pictures.pictures())       # and any other picture


def by_image(name):
    return next(m for m in pictures.pictures() if m.IMAGE == name)


def test_the_tour_has_its_pictures():
    assert set(NAMES) <= set(EVERY)


@pytest.mark.parametrize("name", EVERY)
def test_every_picture_is_fresh(name):
    module = by_image(name)
    assert not pictures.stale(module), f"stale: run python docs/pictures/{name[:-4]}.py"


@pytest.mark.parametrize("name", NAMES)
def test_the_diagrams_are_small(name):
    assert pictures.path(by_image(name)).stat().st_size < 150_000


@pytest.mark.parametrize("name", ["im2col.png", "engine_values.png"])
def test_other_numbers_make_a_picture_stale(name, monkeypatch):
    module = by_image(name)
    shown = module.source()
    monkeypatch.setattr(module, "source", lambda: shown.replace("1", "7"))
    assert pictures.stale(module)


def test_a_changed_script_makes_its_picture_stale(tmp_path, monkeypatch):
    module = by_image("batchnorm_paths.png")
    copy = tmp_path / "batchnorm_paths.py"
    copy.write_text(Path(module.__file__).read_text() + "\n# one more line\n")
    assert not pictures.stale(module)
    monkeypatch.setattr(module, "__file__", str(copy))
    assert pictures.stale(module)


def test_without_its_inputs_only_the_script_is_compared(tmp_path, monkeypatch):
    module = by_image("conv1d_band.png")
    monkeypatch.setattr(module, "source", lambda: None)
    assert not pictures.stale(module)          # the script is the one the PNG was drawn by
    copy = tmp_path / "conv1d_band.py"
    copy.write_text(Path(module.__file__).read_text() + "\n# changed\n")
    monkeypatch.setattr(module, "__file__", str(copy))
    assert pictures.stale(module)
    with pytest.raises(RuntimeError, match="not on this machine"):
        pictures.redraw(module)


def test_a_missing_png_is_stale_and_redraw_stamps_it(tmp_path, monkeypatch):
    module = by_image("im2col.png")
    monkeypatch.setattr(pictures, "IMAGES", tmp_path)
    assert pictures.stale(module)
    path = pictures.redraw(module)
    assert path == tmp_path / "im2col.png" and not pictures.stale(module)
    assert pictures.read_stamp(module) == pictures.stamp(module)
    assert pictures.read_stamp(module).startswith("script=")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_a_graphviz_picture_redraws(tmp_path, monkeypatch):
    module = by_image("r1_step.png")
    monkeypatch.setattr(pictures, "IMAGES", tmp_path)
    pictures.redraw(module)
    assert not pictures.stale(module)


def test_the_r1_picture_colours_the_ops_its_backward_recorded():
    dot = by_image("r1_step.png").source()
    pink = [line for line in dot.splitlines() if "#f4c7d6" in line and "legend" not in line]
    names = {line.split('label="')[1].split("\\n")[0].split('"')[0] for line in pink}
    assert names == {"MatMul", "Reshape", "LeakyReLUGrad", "ConvTranspose2d"}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_a_dot_that_fails_is_a_runtime_error_with_its_message():
    with pytest.raises(RuntimeError, match=r"dot -Tpng failed \(exit 1\): .*syntax error"):
        pictures.dot_png("digraph { a -> ; }")


def test_no_dot_is_a_runtime_error_that_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # a PATH with no dot on it
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        pictures.dot_png("digraph { a -> b; }")
