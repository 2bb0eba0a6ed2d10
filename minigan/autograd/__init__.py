"""Reverse-mode automatic differentiation: the engine, grad modes, anomaly detection, gradcheck,
the graph as a picture (``to_dot``) and the per-op profiler (``profile``)."""
from ..tensor import Tensor, ones_like
from .anomaly import detect_anomaly, is_anomaly_enabled
from .engine import run_backward
from .function import Function
from .profiler import profile
from .graph import to_dot
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Returns a tuple with one tensor per input; ``.grad`` fields are left alone.
    With ``create_graph=True`` the result is itself differentiable.
    """
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    roots, root_grads = [], []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError("grad: an output does not require grad and has no grad_fn")
        if g is None:
            if y.numel() != 1:
                raise RuntimeError(f"grad: grad_outputs must be given for a non-scalar output "
                                   f"of shape {tuple(y.shape)}")
            g = ones_like(y)
        roots.append(y)
        root_grads.append(g)
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError(f"grad: an input of shape {tuple(x.shape)} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    results = run_backward(roots, root_grads, retain_graph, create_graph, inputs=inputs)
    for x, g in zip(inputs, results):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: an input of shape {tuple(x.shape)} was not used in the "
                               f"graph; pass allow_unused=True if this is intended")
    return tuple(results)


from .gradcheck import gradcheck, gradgradcheck  # noqa: E402
