"""``Tensor``: an array, where it came from, and its gradient.

``Tensor.data`` is the raw ``numpy.ndarray`` (CPU) or ``cupy.ndarray`` (CUDA).
``grad_fn`` is the op that made it (None for leaves). Arithmetic and methods
forward to the ops in ``minigan.ops``; this file holds no math.
"""
import numpy as np

from . import backend

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int64 = np.dtype("int64")
int32 = np.dtype("int32")
bool_ = np.dtype("bool")
_default_dtype = float32


def get_default_dtype():
    return _default_dtype


def set_default_dtype(dtype):
    global _default_dtype
    _default_dtype = np.dtype(dtype)


class Tensor:
    __array_priority__ = 1000   # so that ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False):
        self.data = data
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- attributes ----
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating point tensors can require gradients, "
                            f"got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_: cannot turn off gradients of a non-leaf tensor; "
                               "use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    # ---- conversion ----
    def numpy(self):
        return backend.arrays_for(self.data).numpy(self.data)   # a device array: TypeError

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"scalar, got shape {tuple(self.shape)}")
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_device(self.data, "cpu").tolist()

    def to(self, *args, dtype=None, device=None):
        """``t.to('cuda')``, ``t.to(minigan.float64)``, ``t.to('cpu', minigan.float32)``."""
        for a in args:
            if isinstance(a, str) or type(a).__name__ == "device":
                device = a
            else:
                dtype = a
        out = self
        # a move only to another namespace than self's (backend.arrays_for, the one choice)
        if device is not None and backend.arrays_for(device) is not backend.arrays_for(self.data):
            out = ops.to_device(out, backend.parse_device(device))
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = ops.cast(out, np.dtype(dtype))
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def clone(self):
        return ops.clone(self)

    # ---- autograd ----
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``, as PyTorch does."""
        if not self.requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                                   f"outputs, got shape {tuple(self.shape)}")
            gradient = ones_like(self)
        elif not isinstance(gradient, Tensor):
            gradient = as_tensor(gradient, like=self)
        if gradient.shape != self.shape:
            raise RuntimeError(f"backward: gradient has shape {tuple(gradient.shape)} but the "
                               f"tensor has shape {tuple(self.shape)}")
        if retain_graph is None:
            retain_graph = create_graph
        run_backward([self], [gradient], retain_graph, create_graph)

    # in place, through the array namespace of self's device: one launch of our kernels on a GPU
    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        backend.arrays_for(self.data).fill(self.data, value)
        return self

    def copy_(self, other):
        """self[...] = other, an array, a Tensor or a number, from any device."""
        src = other.data if isinstance(other, Tensor) else other
        backend.arrays_for(self.data).copy(self.data, src)
        return self

    # ---- printing ----
    def __repr__(self):
        arr = backend.to_device(self.data, "cpu")
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                               threshold=200, edgeitems=3)
        extras = []
        if self.device != "cpu":   # printing only: the name, as PyTorch prints it
            extras.append(f"device='{self.device}'")
        if self.dtype not in (_default_dtype, int64, bool_):
            extras.append(f"dtype=minigan.{self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool: a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # ---- arithmetic: see minigan.ops ----
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __getitem__(self, key):
        return ops.getitem(self, key)

    # comparisons give boolean tensors and no gradient
    def __eq__(self, other):
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    # ---- methods that name an op ----
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def relu(self): return ops.relu(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def pow(self, exponent): return ops.pow(self, exponent)
    def matmul(self, other): return ops.matmul(self, other)
    def clamp(self, min=None, max=None): return ops.clamp(self, min, max)
    def sum(self, dim=None, keepdim=False): return ops.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return ops.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return ops.var(self, dim, unbiased=unbiased, keepdim=keepdim, correction=correction)

    def max(self, dim=None, keepdim=False): return ops.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return ops.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return ops.argmax(self, dim, keepdim)
    def reshape(self, *shape): return ops.reshape(self, *shape)
    def view(self, *shape): return ops.reshape(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def transpose(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    def permute(self, *dims): return ops.permute(self, *dims)
    def unsqueeze(self, dim): return ops.unsqueeze(self, dim)
    def squeeze(self, dim=None): return ops.squeeze(self, dim)
    def expand(self, *shape): return ops.expand(self, *shape)
    def expand_as(self, other): return ops.expand(self, *other.shape)


def _compare(ufunc, a, b):
    b = b.data if isinstance(b, Tensor) else b
    return Tensor(ufunc(a.data, b))


def as_tensor(value, like=None, dtype=None):
    """Wrap a scalar or array as a constant Tensor on ``like``'s device.

    Python floats take ``like``'s dtype, as PyTorch's scalars do.
    """
    if isinstance(value, Tensor):
        return value
    arrays = backend.arrays_for(like.data if like is not None else "cpu")
    if dtype is None and isinstance(value, (int, float, bool)) and like is not None:
        if like.dtype.kind == "f" and not isinstance(value, bool):
            dtype = like.dtype
        elif isinstance(value, float):
            dtype = _default_dtype
    elif dtype is None and isinstance(value, float):
        dtype = _default_dtype
    return Tensor(arrays.asarray(value, dtype))


# ---- creation ----
def _array_dtype(data, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    kind = np.asarray(data).dtype.kind if not hasattr(data, "dtype") else data.dtype.kind
    if kind == "f":
        return _default_dtype if not hasattr(data, "dtype") else data.dtype
    return None


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor holding a copy of ``data`` (list, scalar, NumPy/CuPy array or Tensor).

    Lists of Python floats become float32, as in PyTorch; NumPy arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        data = data.data
    try:
        host = data if hasattr(data, "__cuda_array_interface__") else np.asarray(data)
    except (ValueError, TypeError) as e:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__}: {e}") from None
    if host.dtype.kind not in "biuf":
        raise TypeError(f"tensor: unsupported dtype {host.dtype} (numbers and booleans only)")
    if dtype is None and host.dtype.kind == "f" and not hasattr(data, "dtype"):
        dtype = _default_dtype
    arrays = backend.arrays_for(host if device is None else device)
    return Tensor(arrays.array(host, dtype), requires_grad=requires_grad)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _filled(fill, size, dtype, device, requires_grad):
    arrays = backend.arrays_for(device or "cpu")
    data = arrays.full(_shape(size), fill, np.dtype(dtype or _default_dtype))
    return Tensor(data, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled(1, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled(fill_value, (size,), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, int) for v in (start, end, step))
        dtype = int64 if is_int else _default_dtype
    data = backend.arrays_for(device or "cpu").arange(start, end, step, np.dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def _like(t, dtype, device):
    return dict(dtype=dtype or t.dtype, device=device or t.device)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(*t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(*t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, **_like(t, dtype, device), requires_grad=requires_grad)


# NOTE: the one place the import cycle closes. Tensor's methods call the ops and the backward
# engine, and those modules import Tensor at their top. So this module imports nothing of
# minigan's but ``backend`` before Tensor is defined, and the ops and the engine after it:
# whichever module is imported first, Tensor exists by the time they ask for it
# (minigan/__init__.py imports this module first).
from . import ops  # noqa: E402
from .autograd.engine import run_backward  # noqa: E402
