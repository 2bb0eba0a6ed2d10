"""minigan.autograd.to_dot: the recorded graph as Graphviz DOT text, and the example that
draws a DCGAN discriminator step with it."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import nn
from minigan.autograd import to_dot

ROOT = Path(__file__).resolve().parents[1]


def parse(dot):
    """(labels by node, edges as (source, target, label, dashed)) of to_dot's text; fails
    on an edge whose end is not declared, or on braces that do not balance."""
    assert dot.startswith("digraph minigan {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    nodes = dict(re.findall(r'^    (\w+) \[label="((?:[^"\\]|\\.)*)"', dot, re.MULTILINE))
    edges = [(a, b, label, dashed == ", style=dashed") for a, b, label, dashed in re.findall(
        r'^    (\w+) -> (\w+)(?: \[label="([^"]*)"(, style=dashed)?\])?;', dot, re.MULTILINE)]
    for a, b, _, _ in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} to an undeclared node"
    return nodes, edges


def by_label(nodes, start):
    found = [n for n, label in nodes.items() if label.startswith(start)]
    assert len(found) == 1, (start, nodes)
    return found[0]


def test_ops_leaves_shapes_and_who_requires_grad(device):
    x = minigan.randn(2, 3, device=device, requires_grad=True)
    W = minigan.randn(3, 4, device=device, requires_grad=True)
    c = minigan.randn(4, device=device)                     # a constant: no gradient
    loss = (x @ W + c).sum()
    nodes, edges = parse(to_dot(loss, params={"x": x, "W": W, "loss": loss}))

    matmul, add, total = by_label(nodes, "MatMul"), by_label(nodes, "Add"), by_label(nodes, "Sum")
    assert nodes[by_label(nodes, "x")] == "x\\n(2, 3)"
    assert nodes[by_label(nodes, "constant")] == "constant\\n(4,)"
    assert nodes[by_label(nodes, "loss")] == "loss\\n()"
    edge = {(a, b): (label, dashed) for a, b, label, dashed in edges}
    assert edge[(by_label(nodes, "x"), matmul)] == ("(2, 3)", False)
    assert edge[(matmul, add)] == ("(2, 4)", False)
    assert edge[(by_label(nodes, "constant"), add)] == ("(4,)", True)   # nobody needs its grad
    assert edge[(add, total)] == ("(2, 4)", False)
    assert len(edges) == 2 + 2 + 1 + 1                            # each input once, and the root


def test_the_same_graph_gives_the_same_text():
    def graph():
        minigan.manual_seed(0)
        x = minigan.randn(3, 2, requires_grad=True)
        return to_dot(F.leaky_relu(x * x, 0.2).sum())
    assert graph() == graph()


def test_a_tensor_used_twice_is_one_node_with_two_edges():
    x = minigan.randn(3, requires_grad=True)
    nodes, edges = parse(to_dot((x * x).sum(), params={"x": x}))
    assert sum(a == by_label(nodes, "x") for a, _, _, _ in edges) == 2


def test_saved_arrays_are_what_backward_reads(device):
    bn = nn.BatchNorm2d(3).to(device)
    x = minigan.randn(4, 3, 2, 2, device=device, requires_grad=True)
    nodes, _ = parse(to_dot(bn(x).sum()))
    label = nodes[by_label(nodes, "BatchNorm")]
    assert "saved: " in label and "x_hat (4, 3, 2, 2)" in label and "inv_std (3,)" in label
    assert "running" not in label           # updated in the forward, not needed after it


def test_after_backward_the_ops_show_released():
    x = minigan.randn(3, requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    nodes, _ = parse(to_dot(loss))
    assert "(released: its backward ran)" in nodes[by_label(nodes, "Sum")]


def test_anything_but_tensors_is_refused_in_one_line():
    with pytest.raises(TypeError, match=r"to_dot: expected one or more Tensors, got \(ndarray\)"):
        to_dot(np.ones(2))
    with pytest.raises(TypeError, match="to_dot: expected one or more Tensors"):
        to_dot()


def test_a_root_without_a_graph_is_drawn_alone():
    nodes, edges = parse(to_dot(minigan.ones(2)))
    assert len(nodes) == 2 and len(edges) == 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_graphviz_reads_the_text():
    x = minigan.randn(2, 1, 8, 8, requires_grad=True)
    W = minigan.randn(3, 1, 3, 3, requires_grad=True)
    dot = to_dot(F.conv2d(x, W, padding=1).sum(), params={"x": x, "W": W})
    out = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    assert "<svg" in out.stdout and "Conv2d" in out.stdout


def run_example(tmp_path, path_env):
    env = dict(os.environ, PATH=path_env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "examples" / "graph_picture.py"),
                           "--out", str(tmp_path), "--batch", "4", "--ndf", "4", "--ngf", "4",
                           "--profile"], capture_output=True, text=True, env=env, timeout=120)


def test_the_example_without_graphviz_writes_the_dot_file_and_says_how_to_draw_it(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")   # a PATH with Python and no dot
    out = run_example(tmp_path, str(bin_dir))
    assert out.returncode == 0, out.stderr
    assert "apt-get install graphviz" in out.stdout and "dot -Tpng" in out.stdout
    nodes, _ = parse((tmp_path / "dcgan_d_step.dot").read_text())
    assert sum(label.startswith("Conv2d") for label in nodes.values()) == 6   # D, twice
    assert any(label.startswith("D.main.0.weight") for label in nodes.values())
    assert not (tmp_path / "dcgan_d_step.png").exists()
    assert re.search(r"^Conv2d +\d+ ", out.stdout, re.MULTILINE)       # the profile's table
    assert re.search(r"^total +[\d.]+ +100%", out.stdout, re.MULTILINE)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_the_example_with_graphviz_renders_a_png(tmp_path):
    out = run_example(tmp_path, os.environ["PATH"])
    assert out.returncode == 0, out.stderr
    png = (tmp_path / "dcgan_d_step.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_tour_picture_is_of_the_graph_to_dot_draws_now():
    """docs/images/dcgan_d_step.dot is what the example writes today (the PNG is drawn
    from it): a change to to_dot or to the models shows here."""
    committed = (ROOT / "docs" / "images" / "dcgan_d_step.dot").read_text()
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import graph_picture
    finally:
        sys.path.remove(str(ROOT / "examples"))
    from minigan.models import DCGANDiscriminator, DCGANGenerator
    minigan.manual_seed(0)
    G, D = DCGANGenerator(28, ngf=8), DCGANDiscriminator(28, ndf=8)
    loss, names = graph_picture.named_d_step(G, D, 16, "cpu")
    assert to_dot(loss, params=names) == committed, (
        "python examples/graph_picture.py --out docs/images --ndf 8 --ngf 8 --batch 16")
    assert np.isfinite(loss.item())


# ---- the ops a backward recorded (create_graph=True), coloured apart ----

FORWARD_FILL, BACKWARD_FILL = "#fff2cc", "#f4c7d6"


def fills(dot):
    """node -> its fillcolor, for every node to_dot declares."""
    return dict(re.findall(r'^    (\w+) \[label="(?:[^"\\]|\\.)*", .*fillcolor="([^"]+)"',
                           dot, re.MULTILINE))


def op_nodes(*roots):
    """fn -> its node name, the way to_dot numbers them (leaves first, then ops)."""
    from minigan.autograd.graph import _walk
    ops, leaves = _walk(roots)
    return {fn: f"n{len(leaves) + i}" for i, fn in enumerate(ops)}


def test_ops_recorded_by_a_backward_are_coloured_apart_from_the_forward():
    x = minigan.tensor([0.5, -1.0, 2.0], requires_grad=True)
    h = x.exp()                                                   # forward
    (g,) = minigan.autograd.grad(h.sum(), x, create_graph=True)   # g = e^x, recorded
    mid = g * h                                                   # forward again
    z = mid.sum()
    forward = {h.grad_fn, mid.grad_fn, z.grad_fn}
    nodes = op_nodes(z)
    assert forward <= set(nodes) and g.grad_fn in nodes and len(nodes) > len(forward)
    dot = to_dot(z, params={"x": x})
    colour = fills(dot)
    for fn, name in nodes.items():
        want = FORWARD_FILL if fn in forward else BACKWARD_FILL
        assert colour[name] == want, (type(fn).__name__, fn in forward, colour[name])
    assert 'legend_outside [label="op recorded outside a backward"' in dot   # g * h too
    assert 'legend_backward [label="op recorded by a backward\\n(create_graph=True)"' in dot
    parse(dot)


def test_a_graph_without_a_recorded_backward_has_no_legend_and_no_pink():
    x = minigan.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)   # create_graph=False: the backward records nothing
    dot = to_dot(y)
    assert "legend" not in dot and BACKWARD_FILL not in dot
    assert not any(fn.recorded_by_backward for fn in op_nodes(y))


def test_the_mark_outlives_release_and_ends_with_the_backward():
    x = minigan.randn(3, requires_grad=True)
    (g,) = minigan.autograd.grad((x * x).sum(), x, create_graph=True)
    after = g * 2                     # made after the backward returned: a forward op
    assert g.grad_fn.recorded_by_backward and not after.grad_fn.recorded_by_backward
    recorded = g.grad_fn
    after.sum().backward()            # frees every op on the way, the recorded ones too
    assert recorded.released and recorded.recorded_by_backward


# ---- values=True: every tensor with its value and gradient ----

def page_01_example(device="cpu"):
    x = minigan.tensor([1.0, 2.0], device=device, requires_grad=True)
    w = minigan.tensor([3.0, -1.0], device=device, requires_grad=True)
    b = minigan.tensor(0.5, device=device, requires_grad=True)
    y = (x * w).sum() + b
    loss = y * y
    (gy,) = minigan.autograd.grad(loss, y, retain_graph=True)
    loss.backward(retain_graph=True)
    return to_dot(loss, params={"x": x, "w": w, "b": b, "y": y, "loss": loss}, values=True,
                  grads={y: gy})


def test_values_show_data_and_grad_of_every_tensor(device):
    nodes, edges = parse(page_01_example(device))   # on the GPU, the numbers are copied back
    label = {text.split("\\n")[0]: (n, text) for n, text in nodes.items()}
    assert label["x"][1] == "x\\ndata [1, 2]\\ngrad [9, -3]"
    assert label["w"][1] == "w\\ndata [3, -1]\\ngrad [3, 6]"
    assert label["b"][1] == "b\\ndata 0.5\\ngrad 3"
    assert label["y"][1] == "y\\ndata 1.5\\ngrad 3"           # from grads=
    assert label["loss"][1] == "loss\\ndata 2.25"              # no gradient given: none shown
    tensors = [n for n, text in nodes.items() if "\\ndata " in text]
    assert len(tensors) == 3 + 3 + 1                             # leaves, x*w, sum, y; the root
    # y is one box, read twice by the last Mul, made by the Add
    y_node, mul = label["y"][0], [a for a, b, _, _ in edges if b == label["loss"][0]][0]
    assert [(a, b) for a, b, _, _ in edges if a == y_node] == [(y_node, mul)] * 2
    assert nodes[[a for a, b, _, _ in edges if b == y_node][0]] == "Add"
    assert all(label_ == "" for _, _, label_, _ in edges)      # no shapes on the arrows


def test_values_of_a_large_tensor_show_its_shape(device):
    x = minigan.randn(3, 4, device=device, requires_grad=True)
    (x * 2).sum().backward(retain_graph=True)
    nodes, _ = parse(to_dot((x * 2).sum(), params={"x": x}, values=True))
    assert nodes[by_label(nodes, "x")] == "x\\ndata (3, 4)\\ngrad (3, 4)"


def test_without_values_the_text_is_as_before():
    x = minigan.randn(3, requires_grad=True)
    y = (x * x).sum()
    assert to_dot(y) == to_dot(y, values=False, grads={y: minigan.ones(())})
