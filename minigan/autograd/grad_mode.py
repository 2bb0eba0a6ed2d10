"""Whether ops record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""
import functools

_enabled = True


def is_grad_enabled():
    return _enabled


class set_grad_enabled:
    """Turn graph recording on or off; a context manager and a decorator, as in PyTorch."""

    def __init__(self, mode):
        global _enabled
        self.prev = _enabled
        _enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False


class _GradModeContext:
    mode = True

    def __enter__(self):
        global _enabled
        self.prev = _enabled
        _enabled = self.mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Ops inside record no graph: ``with minigan.no_grad():`` or ``@minigan.no_grad()``."""
    mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` block."""
    mode = True
