"""``Function``: the base class of every differentiable op.

An op is a subclass with ``forward(*arrays)`` (NumPy or CuPy arrays in, arrays
out; an output may be None when nobody asked for it) and ``backward(*gys)``
(Tensors in, one Tensor or None per input out; None for an output nobody used).
A kernel-backed op also defines ``forward_cuda``, which launches our kernels.
``_run`` is the dispatch: once per call it takes the array namespace of the first input
from ``backend.arrays_for``, the one choice of device, and runs ``forward_cuda`` where that
namespace's ``kernels_take`` the inputs (device arrays of one float dtype, handed over dense
and C-ordered; MatMul's are handed over as they are, as our GEMM reads a transposed view by
a flag, and MatMul and Linear take ``forward_cuda`` for every dtype: a product on the GPU is
our GEMM or a TypeError), else ``forward``. Nothing in an op asks which device it is on;
outside the ops, the optimizers' steps and the few callers of ``backend.arrays_for``
(Tensor.copy_, fill_, the creation functions, the engine's add_into, a BatchStream, a random
draw) take their namespace the same way. (``__call__`` runs ``_run`` through the profiler,
which times it while a ``minigan.autograd.profile`` is open.)
``backward`` is written with Tensor ops, so when the engine runs it with
``create_graph=True`` the gradient is itself recorded and can be
differentiated again.
"""
import weakref

from .. import backend
from ..backend import get_array_module
from ..tensor import Tensor, as_tensor
from . import anomaly, grad_mode, profiler


def _no_output():
    """The weak reference of an output that was not computed: it is always gone."""
    return None


_backward_running = False   # set by ``backward_running`` while the engine runs a backward


class backward_running:
    """The engine runs a backward inside this: an op recorded meanwhile (create_graph=True)
    is marked ``recorded_by_backward``, so that ``to_dot`` can tell it from the others."""

    def __enter__(self):
        global _backward_running
        self.prev, _backward_running = _backward_running, True
        return self

    def __exit__(self, *exc):
        global _backward_running
        _backward_running = self.prev
        return False


class Function:
    released = False     # set when backward frees the saved values (retain_graph=False)
    recorded_by_backward = False  # made while a backward ran (create_graph=True)
    forward_cuda = None  # kernel-backed ops override it
    dense_inputs = True  # forward_cuda reads dense, C-ordered arrays (MatMul takes views)
    every_dtype = False  # forward_cuda takes float32 and float64 only (MatMul, Linear: any)

    def __call__(self, *inputs):
        return profiler.call(type(self).__name__, "forward", self._run, *inputs)

    def _run(self, *inputs):
        like = next((x for x in inputs if isinstance(x, Tensor)), None)
        inputs = tuple(x if isinstance(x, Tensor) else as_tensor(x, like=like) for x in inputs)
        self._check_devices(inputs)
        if anomaly._enabled:
            self.input_shapes = [x.shape for x in inputs]
            self.created_at = anomaly.user_frame()

        xs = tuple(x.data for x in inputs)
        arrays = backend.arrays_for(xs[0])   # the choice of device, once a call
        if self.forward_cuda is not None and arrays.kernels_take(xs, self.every_dtype):
            # NOTE: kernels read dense, C-ordered memory: a view (x.T, x[:, 0]) is copied here
            ys = self.forward_cuda(*(map(arrays.dense, xs) if self.dense_inputs else xs))
        else:
            ys = self.forward(*xs)
        if not isinstance(ys, tuple):
            ys = (ys,)
        # an output may be None: a gradient op skips what no one asked for
        outputs = tuple(None if y is None else Tensor(y) for y in ys)
        if anomaly._enabled and not anomaly._in_backward:
            anomaly.check_finite(self, ys, "forward")

        if grad_mode._enabled and any(x.requires_grad for x in inputs):
            self.inputs = inputs
            self.needs_input_grad = tuple(x.requires_grad for x in inputs)
            # NOTE: weak references, so an op does not keep its own outputs alive.
            self.outputs = tuple(_no_output if y is None else weakref.ref(y) for y in outputs)
            for y in outputs:
                if y is not None and y.data.dtype.kind == "f":
                    y.requires_grad = True
                    y.grad_fn = self
            if _backward_running:   # a backward's op, recorded with create_graph=True
                self.recorded_by_backward = True
        return outputs[0] if len(outputs) == 1 else outputs

    def forward(self, *xs):
        raise TypeError(f"{type(self).__name__} defines no forward")

    def backward(self, *gys):
        raise RuntimeError(f"{type(self).__name__} is not differentiable")

    def release(self):
        """Drop everything saved for backward; a second backward then raises."""
        by_backward = self.recorded_by_backward   # what the op was stays known to a picture
        self.__dict__.clear()
        self.released, self.recorded_by_backward = True, by_backward

    def name(self):
        return type(self).__name__ + "Backward"

    def _check_devices(self, inputs):
        if len(inputs) > 1 and backend.cupy is not None:   # without CuPy all are on the CPU
            devices = {x.device for x in inputs}
            if len(devices) > 1:
                shapes = ", ".join(f"{tuple(x.shape)} on {x.device}" for x in inputs)
                raise RuntimeError(f"{type(self).__name__.lower()}: expected all tensors on the "
                                   f"same device, got {shapes}")

    @staticmethod
    def xp(*arrays):
        return get_array_module(*arrays)
