"""``detect_anomaly``: stop at the first op whose forward or backward makes NaN or Inf.

While it is on, every op remembers the line of user code that created it, and
the error names the op, its input shapes and that line.
"""
import os
import sys

from ..backend import get_array_module

_enabled = False
_in_backward = False   # the engine sets it while one op's backward runs; it checks the result
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_anomaly_enabled():
    return _enabled


class detect_anomaly:
    """Context manager: ``with minigan.autograd.detect_anomaly(): loss.backward()``."""

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = True
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


def user_frame():
    """'file:line: code' of the innermost caller outside the minigan package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    import linecache
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {code}"


def check_finite(fn, arrays, phase):
    """Raise if any of ``arrays`` holds NaN or Inf; ``phase`` is 'forward' or 'backward'."""
    for i, a in enumerate(arrays):
        if a is None or a.dtype.kind != "f":
            continue
        xp = get_array_module(a)
        if not bool(xp.isfinite(a).all()):
            kind = "NaN" if bool(xp.isnan(a).any()) else "Inf"
            shapes = ", ".join(str(tuple(s)) for s in fn.input_shapes)
            raise FloatingPointError(
                f"detect_anomaly: {type(fn).__name__} {phase} produced {kind} in output {i} "
                f"(input shapes {shapes}); op created at {fn.created_at}")
