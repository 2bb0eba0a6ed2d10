"""images/engine_values.png (page 01): the running example's graph after backward, every
tensor with its value (data) and its gradient (grad), drawn by minigan.autograd.to_dot.

    y = (x * w).sum() + b,   loss = y * y,   loss.backward()

Leaves are blue, ops are yellow boxes, the tensors the ops make are white boxes. The
grads of x, w and b are their .grad; those of the tensors in between are what
minigan.grad gives for them, so the picture shows each one the backward passed on.
"""
if __name__ == "__main__":   # run alone: find minigan and the pictures package
    import sys
    from pathlib import Path
    _here = Path(__file__).resolve()
    sys.path[:0] = [str(_here.parents[2]), str(_here.parents[1])]

IMAGE = "engine_values.png"


def source():
    """The DOT text of the graph, values and grads in it."""
    import minigan
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    w = minigan.tensor([3.0, -1.0], requires_grad=True)
    b = minigan.tensor(0.5, requires_grad=True)
    xw = x * w
    s = xw.sum()
    y = s + b
    loss = y * y
    inner = [xw, s, y, loss]
    gradients = minigan.autograd.grad(loss, inner, retain_graph=True)
    loss.backward(retain_graph=True)   # retained, so that to_dot can still walk the graph
    names = {"x": x, "w": w, "b": b, "x * w": xw, "(x * w).sum()": s, "y": y, "loss": loss}
    return minigan.autograd.to_dot(loss, params=names, values=True,
                                   grads=zip(inner, gradients))


def draw(source):
    from pictures import dot_png
    return dot_png(source.replace("rankdir=TB", "rankdir=LR", 1))   # left to right, as it runs


if __name__ == "__main__":
    import pictures
    pictures.main(sys.modules[__name__])
