"""Argument checks that more than one op (and the layers) share."""


def pair(value, name, op):
    """``value`` as an (H, W) pair: an int is used for both sides. ValueError, naming ``op``
    and the argument ``name``, for anything but an int or a pair of ints."""
    hw = (value, value) if isinstance(value, int) else tuple(value)
    if len(hw) != 2 or not all(isinstance(v, int) for v in hw):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return hw
