"""Argument checks that more than one op (and the layers, and the optimizers) share."""
from ..cuda.loading import FLOAT_TYPES


def pair(value, name, op):
    """``value`` as an (H, W) pair: an int is used for both sides. ValueError, naming ``op``
    and the argument ``name``, for anything but an int or a pair of ints."""
    hw = (value, value) if isinstance(value, int) else tuple(value)
    if len(hw) != 2 or not all(isinstance(v, int) for v in hw):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return hw


def kernel_dtype(op, **tensors):
    """The one dtype of a kernel-backed op's tensors (None skipped): float32 or float64.

    The op's public function asks on every device, so that the CPU and the GPU refuse
    alike, as PyTorch does: mixed dtypes, or any other dtype, are a TypeError naming the op.
    """
    given = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(given.values())) > 1:
        raise TypeError(f"{op}: expected {', '.join(given)} of one dtype, got "
                        f"{', '.join(str(d) for d in given.values())}")
    dtype = next(iter(given.values()))
    if dtype not in FLOAT_TYPES:
        raise TypeError(f"{op}: dtype {dtype} is not supported (float32 or float64)")
    return dtype
