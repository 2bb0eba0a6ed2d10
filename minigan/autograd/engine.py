"""The backward engine: topological sort, then one reversed loop.

``backward`` fills the ``.grad`` of leaves (as ``Tensor.backward`` does);
``grad`` returns the gradients of chosen inputs and leaves ``.grad`` alone
(as ``torch.autograd.grad`` does).
"""
from .. import ops
from . import anomaly, grad_mode, profiler
from .function import backward_running


def _topological_order(roots, wanted):
    """Functions reachable from ``roots``, each before the functions that made its inputs.

    With ``wanted`` (ids of the tensors ``grad`` asks for), only the functions
    on a path to one of them are kept, and each function's ``needs_input_grad``
    says which of its inputs lead there.
    """
    post_order, seen = [], set()
    for root in roots:
        if root.grad_fn is None or id(root.grad_fn) in seen:
            continue
        stack = [(root.grad_fn, False)]
        while stack:
            fn, children_done = stack.pop()
            if children_done:
                post_order.append(fn)
                continue
            if id(fn) in seen:
                continue
            if fn.released:
                raise RuntimeError(
                    "backward: trying to backward through the graph a second time; its saved "
                    "values were freed by the first backward. Pass retain_graph=True to that one.")
            seen.add(id(fn))
            stack.append((fn, True))
            for x in fn.inputs:
                if x.grad_fn is not None and id(x.grad_fn) not in seen:
                    stack.append((x.grad_fn, False))

    if wanted is not None:
        # post_order puts every function after the functions that made its inputs
        leads = {}
        for fn in post_order:
            needs = tuple(x.requires_grad and (id(x) in wanted or leads.get(id(x.grad_fn), False))
                          for x in fn.inputs)
            fn.needs_input_grad = needs
            leads[id(fn)] = any(needs)
        post_order = [fn for fn in post_order if leads[id(fn)]]
    else:
        for fn in post_order:
            fn.needs_input_grad = tuple(x.requires_grad for x in fn.inputs)
    return post_order[::-1]


def _accumulate(store, x, g):
    """store[id(x)] += g. The entry holds x itself: a tensor stays alive while its
    gradient is pending, so its creator's weak reference to it still resolves."""
    old = store.get(id(x))
    store[id(x)] = (x, g if old is None else old[1] + g)


def _memory(array):
    """The array that owns ``array``'s memory: itself, or what a view was taken from."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


class _Pending:
    """The memory of the gradients still on their way to a backward: ``memory in pending``."""

    def __init__(self, grads):
        self.grads = grads

    def __contains__(self, memory):
        return any(_memory(g.data) is memory for _, g in self.grads.values())


def _accumulate_grad(leaf, g, taken, create_graph, pending):
    """leaf.grad += g, so that every .grad is dense, C-ordered and its own.

    ``taken`` holds the ids of memory that another .grad or the caller (a root gradient)
    already holds. NOTE: a view that is not dense (a transpose's backward returns one) or
    memory taken already is copied, so that an optimizer reads plain rows and an in-place
    change of one .grad (zero_(), clipping) touches no other. Decided from flags.c_contiguous
    and .base, which NumPy and CuPy arrays both have.
    A .grad that is there already takes g in place, as PyTorch's does, unless the sum must
    be differentiated again (``create_graph``), that .grad is itself part of a graph, or its
    memory is also a gradient still on its way (``pending``: Add's backward hands one gy to
    both inputs, and the other one may not have run its backward yet).
    """
    if leaf.grad is not None:
        if not (create_graph or leaf.grad.requires_grad or _memory(leaf.grad.data) in pending):
            ops.add_into(leaf.grad, g)   # NOTE: no new array, and one kernel on a GPU
            return
        g = leaf.grad + g
    memory = _memory(g.data)
    if id(memory) in taken or not g.data.flags.c_contiguous:
        g = ops.clone(g)
        memory = g.data
    taken.add(id(memory))
    leaf.grad = g


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None):
    """Push ``root_grads`` back from ``roots``.

    With ``inputs=None`` the gradients land in the leaves' ``.grad``; otherwise
    a list with the gradient of each of ``inputs`` (None where none arrives).
    """
    wanted = None if inputs is None else {id(x): x for x in inputs}
    order = _topological_order(roots, wanted)
    grads, captured = {}, {}   # id(tensor) -> (tensor, gradient so far)
    taken = {id(_memory(g.data)) for g in root_grads}   # memory that no .grad may share

    pending = _Pending(grads)

    def deliver(x, g):
        if wanted is not None and id(x) in wanted:
            _accumulate(captured, x, g)
            if x.grad_fn is not None:
                _accumulate(grads, x, g)   # it may also lead to other wanted inputs
        elif x.grad_fn is None:
            if wanted is None:
                _accumulate_grad(x, g, taken, create_graph, pending)
        else:
            _accumulate(grads, x, g)

    with grad_mode.set_grad_enabled(create_graph), backward_running():
        for root, g in zip(roots, root_grads):
            if wanted is not None and id(root) in wanted:
                _accumulate(captured, root, g)
            if root.grad_fn is None:
                if wanted is None:
                    _accumulate_grad(root, g, taken, create_graph, pending)
            else:
                _accumulate(grads, root, g)

        for fn in order:
            # NOTE: an output that nobody used gets None; multi-output ops accept that.
            outputs = [ref() for ref in fn.outputs]
            gys = [None if y is None else grads.pop(id(y), (None, None))[1] for y in outputs]
            if any(g is not None for g in gys):
                # NOTE: while anomaly mode is on, the ops inside a backward are not checked one
                # by one, so that the check of gxs below names fn and not, say, its Div.
                anomaly._in_backward = anomaly._enabled
                try:
                    gxs = profiler.call(type(fn).__name__, "backward", fn.backward, *gys)
                finally:
                    anomaly._in_backward = False
                if not isinstance(gxs, tuple):
                    gxs = (gxs,)
                if anomaly._enabled:
                    anomaly.check_finite(fn, [None if g is None else g.data for g in gxs], "backward")
                for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad):
                    if gx is None or not needed:
                        continue
                    if gx.shape != x.shape:
                        gx = ops.sum_to(gx, x.shape)   # undo the broadcast of the forward
                    if gx.dtype != x.dtype:
                        gx = ops.cast(gx, x.dtype)     # float32 + float64 promotes; grads do not
                    deliver(x, gx)
            if not retain_graph:
                fn.release()

    if inputs is None:
        return None
    return [captured.get(id(x), (None, None))[1] for x in inputs]
