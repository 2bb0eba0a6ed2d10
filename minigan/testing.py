"""Hypothesis strategies for property-testing ops, minigan's own or yours.

    from hypothesis import given
    from minigan.testing import shapes, float_arrays
    from minigan.autograd import gradcheck

    @given(float_arrays(shapes(max_dims=3), away_from=[0]))
    def test_my_op(x):
        gradcheck(my_op, minigan.tensor(x, requires_grad=True))

Values are kept well-conditioned for finite differences: bounded, no NaN,
Inf or subnormals, and (with ``away_from``) clear of the kinks of relu, abs,
clamp and friends; ``distinct=True`` keeps them clear of each other, for the
ties of max and min.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "broadcastable_shapes", "float_arrays", "tensors"]


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Array shapes (tuples of ints); ``()`` is a 0-d tensor."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Pairs of shapes ``(a, b)`` that broadcast together under NumPy/PyTorch rules.

    Either shape may have size-1 dims where the other does not, and fewer
    leading dims: ``((3, 1, 4), (5, 1))``.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: b.input_shapes)


@st.composite
def float_arrays(draw, shape, dtype=np.float64, min_value=-2.0, max_value=2.0, away_from=None,
                 margin=0.05, distinct=False):
    """NumPy float arrays of ``shape`` (a tuple or a strategy of tuples) in [min_value, max_value].

    away_from: points (e.g. ``[0]`` for relu, ``[lo, hi]`` for clamp) that no
        value comes within ``margin`` of, so a finite difference never steps
        across a kink.
    distinct: every pair of values at least ``margin`` apart (for max/min,
        whose gradient jumps at ties); needs ``size * 2 * margin`` to fit in
        the range.
    """
    if not isinstance(shape, tuple):
        shape = draw(shape)
    dtype = np.dtype(dtype)
    points = [float(p) for p in (away_from or ())]

    def clear(v):
        return all(abs(v - p) >= margin for p in points)

    if not distinct:
        lo, hi = _representable(min_value, max_value, dtype)
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                             allow_subnormal=False, width=8 * dtype.itemsize).filter(clear)
        return draw(hnp.arrays(dtype, shape, elements=elements))

    # Distinct values: one per slot of width 2·margin, jittered by at most margin/2
    # inside it, so neighbours stay at least margin apart.
    slot = 2 * margin
    centers = [c for c in min_value + slot * (np.arange(int((max_value - min_value) / slot)) + 0.5)
               if all(abs(c - p) >= 1.5 * margin for p in points)]
    size = int(np.prod(shape))
    if size > len(centers):
        raise ValueError(f"float_arrays: {size} distinct values {margin} apart do not fit "
                         f"in [{min_value}, {max_value}]")
    chosen = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(centers), unique=True))
    jitter = draw(hnp.arrays(np.float64, shape,
                             elements=st.floats(-margin / 2, margin / 2, allow_subnormal=False)))
    return (chosen + jitter).astype(dtype)


def _representable(lo, hi, dtype):
    """The bounds rounded inwards to values that ``dtype`` holds exactly."""
    lo_d, hi_d = dtype.type(lo), dtype.type(hi)
    if lo_d < lo:
        lo_d = np.nextafter(lo_d, dtype.type(np.inf))
    if hi_d > hi:
        hi_d = np.nextafter(hi_d, dtype.type(-np.inf))
    return float(lo_d), float(hi_d)


@st.composite
def tensors(draw, shape, dtype=np.float64, device="cpu", requires_grad=True, **kwargs):
    """minigan tensors (leaves) holding ``float_arrays(shape, dtype, **kwargs)``."""
    import minigan
    array = draw(float_arrays(shape, dtype=dtype, **kwargs))
    return minigan.tensor(array, device=device, requires_grad=requires_grad)
