"""minigan.save / minigan.load: round trips, atomic writes, clear errors for bad files."""
import os
import zipfile

import numpy as np
import pytest

import minigan
from minigan import nn
from minigan.serialization import CheckpointError, leaves


def test_round_trip_nested_structure(tmp_path):
    obj = {
        "w": minigan.randn(3, 4, requires_grad=True),
        "p": nn.Parameter(minigan.ones(2)),
        "arrays": [np.arange(5), np.float32(2.5), (1, 2.0, "x", None, True)],
        7: {"nested": [minigan.tensor([1, 2, 3])], "inf": float("inf")},
        "big": 2 ** 100,
    }
    minigan.save(obj, tmp_path / "a.npz")
    back = minigan.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back["w"].numpy(), obj["w"].numpy())
    assert back["w"].requires_grad and isinstance(back["p"], nn.Parameter)
    np.testing.assert_array_equal(back["arrays"][0], np.arange(5))
    assert back["arrays"][1] == np.float32(2.5) and back["arrays"][1].dtype == np.float32
    assert back["arrays"][2] == (1, 2.0, "x", None, True)
    assert back[7]["nested"][0].dtype == minigan.int64 and back[7]["inf"] == float("inf")
    assert back["big"] == 2 ** 100


def test_rng_state_round_trip(tmp_path):
    minigan.manual_seed(3)
    minigan.randn(5)
    minigan.save({"rng": minigan.get_rng_state()}, tmp_path / "r.npz")
    expected = minigan.randn(4).numpy()
    minigan.set_rng_state(minigan.load(tmp_path / "r.npz")["rng"])
    np.testing.assert_array_equal(minigan.randn(4).numpy(), expected)


def test_truncated_file_raises_clear_error(tmp_path):
    minigan.save({"w": minigan.randn(100, 100)}, tmp_path / "ok.npz")
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"minigan.load: .*cut.npz is truncated or not a minigan file"):
        minigan.load(tmp_path / "cut.npz")


def test_foreign_files_raise_clear_errors(tmp_path):
    (tmp_path / "text.npz").write_text("a,b\n1,2\n")
    with pytest.raises(CheckpointError, match=r"truncated or not a minigan file \(not a zip archive\)"):
        minigan.load(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(CheckpointError, match="no minigan header"):
        minigan.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        minigan.load(tmp_path / "missing.npz")


def test_save_is_atomic(tmp_path):
    path = tmp_path / "ck.npz"
    minigan.save({"v": 1}, path)
    with pytest.raises(TypeError, match="cannot store an object of type object"):
        minigan.save({"v": 2, "bad": object()}, path)
    assert minigan.load(path) == {"v": 1}           # the old file is intact
    assert os.listdir(tmp_path) == ["ck.npz"]       # and no temporary is left behind
    assert zipfile.is_zipfile(path)                  # it is a plain .npz archive


def test_leaves_lists_every_array_of_a_tree_by_path(tmp_path, device):
    tree = {"models": {"w": minigan.ones(2, device=device)}, "steps": [3, np.float32(0.5)]}
    minigan.save(tree, tmp_path / "t.npz")
    found = leaves(minigan.load(tmp_path / "t.npz", map_location="cpu"))
    assert sorted(found) == ["/models/w", "/steps/0", "/steps/1"]
    np.testing.assert_array_equal(found["/models/w"], np.ones(2, np.float32))
    assert found["/steps/0"] == 3 and found["/steps/1"].dtype == np.float32
