"""minigan.vis (image grids, loss plots), and a short run of examples/train_gan.py using it."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minigan import vis
from minigan.data import write_idx

ROOT = Path(__file__).resolve().parents[1]


# ---- image_grid ----

def test_grid_one_channel_layout():
    # 5 images of 2x3, nrow 2, padding 1: 3 rows, 2 columns.
    images = np.stack([np.full((1, 2, 3), v) for v in (-1.0, -0.5, 0.0, 0.5, 1.0)])
    grid = vis.image_grid(images, nrow=2, padding=1, pad_value=7)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 3 + 1, 2 * 4 + 1, 1)
    # Each tile sits at (1 + 3 r, 1 + 4 c) and holds its value mapped from [-1, 1] to 0..255.
    for i, expected in enumerate([0, 64, 128, 191, 255]):
        r, c = divmod(i, 2)
        tile = grid[1 + 3 * r:3 + 3 * r, 1 + 4 * c:4 + 4 * c, 0]
        assert (tile == expected).all(), (i, tile)
    # Padding everywhere else, including the empty sixth slot.
    assert (grid[0] == 7).all() and (grid[:, 0] == 7).all()
    assert (grid[7:9, 5:8] == 7).all()


def test_grid_three_channels_keep_their_colors():
    images = np.zeros((2, 3, 4, 4), dtype=np.float32) - 1
    images[0, 0] = 1    # red
    images[1, 2] = 1    # blue
    grid = vis.image_grid(images, nrow=8, padding=2)
    assert grid.shape == (4 + 4, 2 * 6 + 2, 3)       # nrow larger than N: one row of 2
    assert tuple(grid[2, 2]) == (255, 0, 0)
    assert tuple(grid[2, 8]) == (0, 0, 255)


def test_grid_clips_to_value_range_or_uses_the_batch_range():
    images = np.array([[[[-5.0, 0.0, 5.0]]]])                # (1, 1, 1, 3)
    assert vis.image_grid(images, padding=0)[0, :, 0].tolist() == [0, 128, 255]
    assert vis.image_grid(images, padding=0, value_range=None)[0, :, 0].tolist() == [0, 128, 255]
    assert vis.image_grid(images * 0.1, padding=0, value_range=(0, 1))[0, :, 0].tolist() == [
        0, 0, 128]


def test_grid_takes_tensors_and_rejects_bad_shapes():
    import minigan
    t = minigan.tensor(np.zeros((4, 1, 5, 5), dtype=np.float32), requires_grad=True) * 2
    assert vis.image_grid(t, nrow=2, padding=0).shape == (10, 10, 1)
    with pytest.raises(ValueError, match="C 1 or 3"):
        vis.image_grid(np.zeros((4, 2, 5, 5)))


def test_save_image_grid_scales_up(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (25, 1, 28, 28))
    path = vis.save_image_grid(images, tmp_path / "g.png", nrow=5, scale=2)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "L"
        assert im.size == (2 * (5 * 30 + 2), 2 * (5 * 30 + 2))
        pixels = np.asarray(im)
    grid = vis.image_grid(images, nrow=5)[:, :, 0]
    np.testing.assert_array_equal(pixels[::2, ::2], grid)   # nearest neighbour: exact copies
    vis.save_image_grid(images[:4].repeat(3, axis=1), tmp_path / "rgb.png", scale=1)
    with Image.open(tmp_path / "rgb.png") as im:
        assert im.mode == "RGB" and im.size == (4 * 30 + 2, 30 + 2)


# ---- plot_curves ----

def test_plot_curves_writes_a_readable_png(tmp_path):
    rng = np.random.default_rng(0)
    series = {"loss_D": list(1.3 + 0.2 * rng.standard_normal(300)),
              "loss_G": list(0.9 + 0.3 * rng.standard_normal(300))}
    path = vis.plot_curves(series, tmp_path / "losses.png", title="losses", smooth=0.8,
                           size=(640, 400))
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (640, 400)
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
    colors = {tuple(p) for p in pixels}
    assert len(colors) > 10
    # Both series colors (tab10 blue and orange) appear somewhere.
    for hex_color in vis.COLORS[:2]:
        rgb = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels.astype(int) - rgb).sum(axis=1) < 30).any(), hex_color


@pytest.mark.parametrize("series", [
    {"x": [1.0]},
    {"x": [2.0, 2.0, 2.0]},
    {"x": [1.0, float("nan"), 3.0, float("inf")], "y": []},
    {},
])
def test_plot_curves_edge_cases(tmp_path, series):
    path = vis.plot_curves(series, tmp_path / "p.png", ylabel="loss")
    with Image.open(path) as im:
        assert im.size == (800, 480)


def test_nice_ticks_and_labels():
    assert vis.nice_ticks(0, 1499, 10) == [0, 200, 400, 600, 800, 1000, 1200, 1400]
    assert vis.tick_labels(vis.nice_ticks(0.38, 2.1, 8)) == [
        "0.50", "0.75", "1.00", "1.25", "1.50", "1.75", "2.00"]
    assert vis.tick_labels([0, 20000, 40000]) == ["0", "20k", "40k"]


# ---- examples/train_gan.py end to end ----

def test_train_gan_runs_and_writes_pictures(tmp_path):
    rng = np.random.default_rng(0)
    data_dir = tmp_path / "mnist"
    data_dir.mkdir()
    write_idx(data_dir / "train-images-idx3-ubyte.gz",
              rng.integers(0, 256, (80, 28, 28), dtype=np.uint8))
    write_idx(data_dir / "train-labels-idx1-ubyte", rng.integers(0, 10, 80, dtype=np.uint8))
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_gan.py"), "--data-dir", str(data_dir),
         "--dataset", "mnist", "--steps", "3", "--batch-size", "8", "--limit", "64",
         "--sample-every", "2", "--log-every", "1", "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "64 images" in result.stdout and "loss_D" in result.stdout
    assert "mlp-gan28 (nz 100, 1 channel) on cpu: 3 steps of batch 8" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-0000003.npz", "losses.png", "metrics.csv", "real_samples.png",
        "samples_000002.png", "samples_000003.png"]
    with Image.open(out / "samples_000002.png") as im:
        assert im.size == (2 * (8 * 30 + 2),) * 2
