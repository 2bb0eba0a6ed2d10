"""The recorded graph as a picture: Graphviz DOT text, no dependency.

    dot = minigan.autograd.to_dot(loss, params=dict(D.named_parameters()))
    open("graph.dot", "w").write(dot)       # then: dot -Tpng graph.dot -o graph.png

The picture shows what ``backward`` will walk, drawn in the direction of the forward:
leaves at the top (blue: they require grad and will get a .grad; grey: constants), one box
per op with the arrays it holds for its backward, each arrow labelled with the shape of
the tensor it carries, and the roots at the bottom. An input whose gradient nobody
needs is a dashed arrow. An op that a backward recorded (``create_graph=True``: the
gradient of a penalty, a double backward) is a pink box, and a legend says so; every other
op is yellow, the forward's and those built after from such a gradient (a penalty's
square and mean).

With ``values=True`` every tensor is a box of its own, holding its value and its
gradient (a leaf's ``.grad``, or what ``grads`` gives for the others):

    loss.backward(retain_graph=True)        # so that the graph is still there to walk
    dot = minigan.autograd.to_dot(loss, params={"x": x}, values=True)
"""
from .. import backend
from ..tensor import Tensor

_LEAF = 'shape=ellipse, style=filled, fillcolor="#cfe3ff"'
_CONSTANT = 'shape=ellipse, style=filled, fillcolor="#eeeeee", fontcolor="#666666"'
_OP = 'shape=box, style="rounded,filled", fillcolor="#fff2cc"'
_ROOT = "shape=ellipse, penwidth=2"
_BACKWARD_OP = 'shape=box, style="rounded,filled", fillcolor="#f4c7d6"'
_TENSOR = 'shape=box, style=filled, fillcolor="#ffffff"'
_VALUES_SHOWN = 8   # values=True writes out tensors of at most this many numbers


def _shape(t):
    return str(tuple(t.shape))   # "(2, 3)", "(3,)", "()"


def _quoted(text):
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


def _numbers(t):
    """A small tensor's numbers as one line, 4 significant digits: "2.25", "[9, -3]".
    ``t``: a Tensor or an array, of either device (a GPU one is copied to the host)."""
    a = t.data if isinstance(t, Tensor) else t
    if a.size > _VALUES_SHOWN:
        return _shape(a)
    a = backend.to_device(a, "cpu")   # a few numbers, copied once
    if a.ndim == 0:
        return f"{float(a):.4g}"
    rows = a.reshape(-1, a.shape[-1])
    return " ".join("[" + ", ".join(f"{float(v):.4g}" for v in row) + "]" for row in rows)


def saved_arrays(fn):
    """(name, array) for every array or Tensor the op holds in an attribute of its own:
    what its backward reads (x̂ and 1/σ for BatchNorm, the column matrix for a conv...).
    The inputs and outputs are tuples, so they are not listed."""
    saved = []
    for name, value in vars(fn).items():
        if isinstance(value, Tensor):
            value = value.data
        if backend.is_array(value):
            saved.append((name, value))
    return saved


def _walk(roots):
    """Every op reachable from ``roots`` (each once) and every leaf input, in first-seen order."""
    ops, leaves, seen = [], [], set()
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        ops.append(fn)
        for x in getattr(fn, "inputs", ()):
            if x.grad_fn is not None:
                stack.append(x.grad_fn)
            elif id(x) not in seen:
                seen.add(id(x))
                leaves.append(x)
    return ops, leaves


def to_dot(*roots, params=None, show_saved=True, values=False, grads=None):
    """The graph that produced ``roots`` (Tensors), as Graphviz DOT text.

    ``params`` (a dict or pairs of name and Tensor, e.g. ``dict(model.named_parameters())``)
    names the leaves it holds, parameters or any other tensor (and a root, if given);
    other leaves show their shape only. The same
    graph gives the same text: nodes are numbered in the order the walk meets them.
    ``values=True`` draws every tensor as a box with its value and gradient (tensors of
    more than 8 numbers show their shape instead), in place of the shapes on the arrows,
    and the ops by name only; ``grads`` (a dict or pairs of Tensor and gradient)
    gives the gradients of tensors that are not leaves, e.g. from ``minigan.grad``.
    """
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"to_dot: expected one or more Tensors, got "
                        f"({', '.join(type(t).__name__ for t in roots)})")
    names = {id(t): name for name, t in dict(params or {}).items()}
    known_grads = {id(t): g for t, g in dict(grads or {}).items()}
    ops, leaves = _walk(roots)
    node = {id(obj): f"n{i}" for i, obj in enumerate(leaves + ops)}
    made = {}   # values=True: id(tensor an op made) -> its node; the roots are r0, r1...
    if values:
        for i, y in enumerate(roots):
            made.setdefault(id(y), f"r{i}")

    def tensor_label(x, name):
        if not values:
            return f"{name}\n{_shape(x)}"
        g = x.grad if x.grad_fn is None else known_grads.get(id(x))
        return f"{name}\ndata {_numbers(x)}" + ("" if g is None else f"\ngrad {_numbers(g)}")

    def source(x):
        if x.grad_fn is None:
            return node[id(x)]
        if values:
            return made[id(x)]
        return node[id(x.grad_fn)]

    lines = ["digraph minigan {",
             '    graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
             '    node [fontname="Helvetica", fontsize=10];',
             '    edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for x in leaves:
        if x.requires_grad:
            label, style = tensor_label(x, names.get(id(x), "tensor")), _LEAF
        else:
            label, style = tensor_label(x, names.get(id(x), "constant")), _CONSTANT
        lines.append(f"    {node[id(x)]} [label={_quoted(label)}, {style}];")
    for fn in ops:
        label = type(fn).__name__   # values=True: the name alone, the tensors say the rest
        if not values and fn.released:
            label += "\n(released: its backward ran)"
        elif not values and show_saved:
            saved = saved_arrays(fn)
            if saved:
                label += "\nsaved: " + ", ".join(f"{n} {_shape(a)}" for n, a in saved)
        style = _BACKWARD_OP if fn.recorded_by_backward else _OP
        lines.append(f"    {node[id(fn)]} [label={_quoted(label)}, {style}];")
        needs = getattr(fn, "needs_input_grad", ())
        for i, x in enumerate(getattr(fn, "inputs", ())):
            dashed = ", style=dashed" if i < len(needs) and not needs[i] else ""
            if values and x.grad_fn is not None and id(x) not in made:   # its first use
                made[id(x)] = t = f"t{len(made)}"
                label = _quoted(tensor_label(x, names.get(id(x), "tensor")))
                lines.append(f"    {t} [label={label}, {_TENSOR}];")
                lines.append(f"    {node[id(x.grad_fn)]} -> {t};")
            if values:   # the shape is in the tensor's box
                attributes = " [style=dashed]" if dashed else ""
            else:
                attributes = f" [label={_quoted(_shape(x))}{dashed}]"
            lines.append(f"    {source(x)} -> {node[id(fn)]}{attributes};")
    for i, y in enumerate(roots):
        name = names.get(id(y), "output" if len(roots) == 1 else f"output {i}")
        if values:
            label = _quoted(tensor_label(y, name))
            lines.append(f"    r{i} [label={label}, {_TENSOR}, penwidth=2];")
        else:
            lines.append(f"    r{i} [label={_quoted(name + chr(10) + _shape(y))}, {_ROOT}];")
        if y.grad_fn is None:   # a root that no op made: draw it alone
            lines.append(f"    r{i}_leaf [label={_quoted(_shape(y))}, {_CONSTANT}];")
            lines.append(f"    r{i}_leaf -> r{i};")
        elif values:
            lines.append(f"    {node[id(y.grad_fn)]} -> r{i};")
        else:
            lines.append(f"    {source(y)} -> r{i} [label={_quoted(_shape(y))}];")
    if any(fn.recorded_by_backward for fn in ops):
        lines += ["    subgraph cluster_legend {",
                  '        label="legend"; fontsize=9; color="#bbbbbb";',
                  f'        legend_outside [label="op recorded outside a backward", {_OP}];',
                  f'        legend_backward [label="op recorded by a backward\\n'
                  f'(create_graph=True)", {_BACKWARD_OP}];',
                  "    }"]
    lines.append("}")
    return "\n".join(lines) + "\n"
