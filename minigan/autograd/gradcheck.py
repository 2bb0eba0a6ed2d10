"""Finite-difference checks of analytic gradients, in float64.

For a random cotangent v on the outputs, backward gives vᵀJ, one number per
input element. Central differences give the same numbers:

    (vᵀf(x + ε eᵢ) - vᵀf(x - ε eᵢ)) / 2ε   for every element i   (small inputs), or
    (vᵀf(x + ε u)  - vᵀf(x - ε u))  / 2ε   for a few random directions u   (large inputs),

the second compared with ⟨vᵀJ, u⟩, so its cost does not grow with the input size.
"""
import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor
from . import grad, grad_mode


# NOTE: mixed into the seeds of the random cotangents and directions, so that they never equal
# test data drawn from default_rng(seed): a cotangent equal to the input can hide a wrong gradient.
_SALT = 0x6D696E6967616E


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with finite differences."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _cotangent(rng, outputs):
    vs = []
    for y in outputs:
        xp = get_array_module(y.data)
        vs.append(Tensor(xp.asarray(rng.standard_normal(y.shape))))
    return vs


def _dot(outputs, vs):
    """vᵀf as a Python float (outputs that are not float contribute nothing)."""
    total = 0.0
    for y, v in zip(outputs, vs):
        if y.dtype.kind == "f":
            total += float((y.data * v.data).sum())
    return total


def _analytic(fn, inputs, targets, vs, create_graph=False):
    """vᵀJ for each target input, as NumPy arrays (zeros where no gradient arrives)."""
    with grad_mode.enable_grad():
        outputs = _as_tuple(fn(*inputs))
    pairs = [(y, v) for y, v in zip(outputs, vs) if y.requires_grad]
    if not pairs:
        return [np.zeros(x.shape) for x in targets]
    gs = grad([y for y, _ in pairs], targets, [v for _, v in pairs], allow_unused=True,
              create_graph=create_graph)
    return [np.zeros(x.shape) if g is None else _host(g.data) for x, g in zip(targets, gs)]


def _host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _numeric(fn, inputs, vs, x, direction, eps):
    """Central difference of vᵀf along ``direction`` (an array shaped like x)."""
    original = x.data.copy()
    with grad_mode.enable_grad():
        x.data[...] = original + eps * direction
        plus = _dot(_as_tuple(fn(*inputs)), vs)
        x.data[...] = original - eps * direction
        minus = _dot(_as_tuple(fn(*inputs)), vs)
    x.data[...] = original
    return (plus - minus) / (2 * eps)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              full_limit=256, n_directions=3, seed=0, create_graph=False):
    """Check the gradient of ``fn`` at ``inputs`` (float64 tensors; those with requires_grad).

    Inputs with at most ``full_limit`` elements are checked element by element;
    larger ones along ``n_directions`` random directions. Returns True, or
    raises ``GradcheckError`` naming the input, the worst index and both values
    (returns False instead when ``raise_exception=False``). With ``create_graph`` the
    gradient checked is the one built for differentiating again.
    """
    inputs = _as_tuple(inputs)
    targets = [x for x in inputs if getattr(x, "requires_grad", False)]
    if not targets:
        raise ValueError("gradcheck: no input requires grad")
    for k, x in enumerate(targets):
        if x.dtype != np.float64:
            raise ValueError(f"gradcheck: input {k} has dtype {x.dtype}; finite differences "
                             f"need float64")
    rng = np.random.default_rng([seed, _SALT])
    with grad_mode.no_grad():
        outputs = _as_tuple(fn(*inputs))
    vs = _cotangent(rng, outputs)
    analytic = _analytic(fn, inputs, targets, vs, create_graph)

    for k, (x, a) in enumerate(zip(targets, analytic)):
        xp = get_array_module(x.data)
        if x.numel() <= full_limit:
            numeric = np.zeros(x.shape)
            for index in np.ndindex(*x.shape):
                e = xp.zeros(x.shape)
                e[index] = 1
                numeric[index] = _numeric(fn, inputs, vs, x, e, eps)
            error = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
            if error.size and error.max() > 0:
                worst = np.unravel_index(int(error.argmax()), x.shape)
                return _fail(raise_exception,
                             f"gradcheck: wrong gradient for input {k} (shape {tuple(x.shape)}) "
                             f"at index {tuple(int(i) for i in worst)}: analytic {a[worst]:.8g}, "
                             f"numerical {numeric[worst]:.8g}")
        else:
            for d in range(n_directions):
                u = rng.standard_normal(x.shape)
                numeric = _numeric(fn, inputs, vs, x, xp.asarray(u), eps)
                expected = float((a * u).sum())
                if abs(expected - numeric) > atol + rtol * abs(numeric):
                    return _fail(raise_exception,
                                 f"gradcheck: wrong gradient for input {k} (shape "
                                 f"{tuple(x.shape)}) along random direction {d}: analytic "
                                 f"{expected:.8g}, numerical {numeric:.8g}")
    return True


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, full_limit=256, n_directions=3, seed=0):
    """Check second derivatives: gradcheck of x, v ↦ vᵀJ(x), built with ``create_graph=True``.

    ``grad_outputs`` (the v) are drawn at random when not given; they are
    checked as inputs too, so the gradient's dependence on v is tested as well.
    First, that gradient itself is checked against finite differences of ``fn``:
    differentiating it again only shows that it is consistent with itself, and an op
    may build it by other code than its plain backward.
    """
    inputs = _as_tuple(inputs)
    n = len(inputs)
    with grad_mode.no_grad():
        outputs = _as_tuple(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng([seed + 1, _SALT])
        grad_outputs = [Tensor(v.data, requires_grad=True) for v in _cotangent(rng, outputs)]
    grad_outputs = _as_tuple(grad_outputs)

    def first_gradient(*args):
        xs, vs = args[:n], args[n:]
        # NOTE: gradcheck calls this under no_grad too; the graph must be recorded anyway.
        with grad_mode.enable_grad():
            ys = _as_tuple(fn(*xs))
            pairs = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
            targets = [x for x in xs if getattr(x, "requires_grad", False)]
            gs = grad([y for y, _ in pairs], targets, [v for _, v in pairs],
                      create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    options = dict(eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
                   full_limit=full_limit, n_directions=n_directions, seed=seed)
    if not gradcheck(fn, inputs, create_graph=True, **options):
        return False
    return gradcheck(first_gradient, tuple(inputs) + tuple(grad_outputs), **options)
