"""The recorded graph as a picture: Graphviz DOT text, no dependency.

    dot = minigan.autograd.to_dot(loss, params=dict(D.named_parameters()))
    open("graph.dot", "w").write(dot)       # then: dot -Tpng graph.dot -o graph.png

The picture shows what ``backward`` will walk, drawn in the direction of the forward:
leaves at the top (blue: they require grad and will get a .grad; grey: constants), one box
per op with the arrays it holds for its backward, each arrow labelled with the shape of
the tensor it carries, and the roots at the bottom. An input whose gradient nobody
needs is a dashed arrow.
"""
from .. import backend
from ..tensor import Tensor

_LEAF = 'shape=ellipse, style=filled, fillcolor="#cfe3ff"'
_CONSTANT = 'shape=ellipse, style=filled, fillcolor="#eeeeee", fontcolor="#666666"'
_OP = 'shape=box, style="rounded,filled", fillcolor="#fff2cc"'
_ROOT = "shape=ellipse, penwidth=2"


def _shape(t):
    return str(tuple(t.shape))   # "(2, 3)", "(3,)", "()"


def _quoted(text):
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


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


def to_dot(*roots, params=None, show_saved=True):
    """The graph that produced ``roots`` (Tensors), as Graphviz DOT text.

    ``params`` (a dict or pairs of name and Tensor, e.g. ``dict(model.named_parameters())``)
    names the leaves it holds, parameters or any other tensor (and a root, if given);
    other leaves show their shape only. The same
    graph gives the same text: nodes are numbered in the order the walk meets them.
    """
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"to_dot: expected one or more Tensors, got "
                        f"({', '.join(type(t).__name__ for t in roots)})")
    names = {id(t): name for name, t in dict(params or {}).items()}
    ops, leaves = _walk(roots)
    node = {id(obj): f"n{i}" for i, obj in enumerate(leaves + ops)}

    def source(x):
        return node[id(x.grad_fn)] if x.grad_fn is not None else node[id(x)]

    lines = ["digraph minigan {",
             '    graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
             '    node [fontname="Helvetica", fontsize=10];',
             '    edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for x in leaves:
        if x.requires_grad:
            label, style = f"{names.get(id(x), 'tensor')}\n{_shape(x)}", _LEAF
        else:
            label, style = f"{names.get(id(x), 'constant')}\n{_shape(x)}", _CONSTANT
        lines.append(f"    {node[id(x)]} [label={_quoted(label)}, {style}];")
    for fn in ops:
        label = type(fn).__name__
        if fn.released:
            label += "\n(released: its backward ran)"
        elif show_saved:
            saved = saved_arrays(fn)
            if saved:
                label += "\nsaved: " + ", ".join(f"{n} {_shape(a)}" for n, a in saved)
        lines.append(f"    {node[id(fn)]} [label={_quoted(label)}, {_OP}];")
        needs = getattr(fn, "needs_input_grad", ())
        for i, x in enumerate(getattr(fn, "inputs", ())):
            dashed = ", style=dashed" if i < len(needs) and not needs[i] else ""
            lines.append(f"    {source(x)} -> {node[id(fn)]} [label={_quoted(_shape(x))}{dashed}];")
    for i, y in enumerate(roots):
        name = names.get(id(y), "output" if len(roots) == 1 else f"output {i}")
        lines.append(f"    r{i} [label={_quoted(name + chr(10) + _shape(y))}, {_ROOT}];")
        if y.grad_fn is None:   # a root that no op made: draw it alone
            lines.append(f"    r{i}_leaf [label={_quoted(_shape(y))}, {_CONSTANT}];")
            lines.append(f"    r{i}_leaf -> r{i};")
        else:
            lines.append(f"    {source(y)} -> r{i} [label={_quoted(_shape(y))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
