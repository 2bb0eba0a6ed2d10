"""Which names CuPy 14.2 has, for the CuPy double: the bottom of cupy_double.

The public attributes of ``cupy.ndarray``, the calls that write in place, that read a count
on the host or copy to the host, and the check of a name against the installed CuPy (when
there is one): cupy_kernels, cupy_ndarray and cupy_double read them. This module imports
none of the double.
"""
try:   # only for its names: which functions and methods the installed CuPy has
    import cupy as _cupy
except Exception:
    _cupy = None

# The public attributes of CuPy 14.2's ndarray (core.pyx:213-2393, core.pxd:13-25; checked
# against the installed CuPy by tests/test_emulator.py). Any other public one is NumPy's alone.
NDARRAY_ATTRIBUTES = frozenset("""
    T all any argmax argmin argpartition argsort astype base byteswap choose clip compress
    conj conjugate copy cstruct cumprod cumsum data device diagonal dot dtype dump dumps fill
    flags flat flatten get imag item itemsize mT max mdspan mean min nbytes ndim nonzero
    partition prod ptp put ravel real reduced_view repeat reshape round scatter_add
    scatter_max scatter_min searchsorted set shape size sort squeeze std strides sum swapaxes
    take toDlpack tobytes tofile tolist trace transpose var view""".split())
# Methods, and functions, that write into an array they are given
IN_PLACE_METHODS = frozenset("sort partition put".split())
IN_PLACE = frozenset("copyto putmask place put put_along_axis fill_diagonal".split())
# Calls that read a count on the host, a device-to-host copy in the middle: nonzero, where(cond),
# argwhere, compress (_routines_indexing.pyx:123), unique (cupy/_manipulation/add_remove.py:
# 324), trim_zeros (add_remove.py:184-186), bincount (cupy/_statistics/histogram.py:560),
# extract (cupy/_indexing/indexing.py:162, through nonzero)
READ_A_COUNT = frozenset("nonzero argwhere flatnonzero compress unique trim_zeros bincount "
                         "extract".split())
TO_HOST = frozenset("dump dumps tofile".split())
# NumPy answers these with a Python bool, CuPy with a 0-d device array
# (cupy/_logic/comparison.py:63, 99)
DEVICE_BOOLS = frozenset("allclose array_equal array_equiv".split())


# ---- names checked against the installed CuPy ----
def _check_name(cupy_object, name, where):
    if _cupy is not None and not hasattr(cupy_object, name):
        raise AttributeError(f"'{where}' has no attribute '{name}' in the installed CuPy "
                             f"{_cupy.__version__}")


def _path(numpy_path, name):
    """numpy.fft.fft -> 'fft.fft', checked against the installed CuPy; what NumPy keeps in a
    private module (numpy._core.fromnumeric) CuPy has at its top level."""
    parts = []
    for part in numpy_path.split(".")[1:]:
        if part.startswith("_"):
            parts = []
            break
        parts.append(part)
    target = _cupy
    for part in parts:
        target = getattr(target, part, None)
    _check_name(target, name, "cupy")
    return ".".join(parts + [name])
