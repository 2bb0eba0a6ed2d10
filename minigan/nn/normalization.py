"""Normalization layers: BatchNorm1d, BatchNorm2d and LayerNorm (the critic's BatchNorm
replacement in WGAN-GP)."""
from .. import functional as F
from ..cuda.graphs import capturing, on_replay
from ..tensor import ones, tensor as _tensor, zeros
from .module import Module, Parameter


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d: PyTorch's arguments, buffers and momentum rule.

    NOTE: ``num_batches_tracked`` stays on the host, wherever the module is: counting on a
    GPU would be a launch each forward (a generic one: about 46 µs on an H200, by the
    reference prices), and reading it for momentum=None a wait. A captured step (minigan.cuda.CapturedStep) counts on each replay.
    """
    expected_dims = ()
    host_buffers = frozenset({"num_batches_tracked"})

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, device=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        kw = dict(dtype=dtype, device=device)
        self.weight = Parameter(ones(num_features, **kw)) if affine else None
        self.bias = Parameter(zeros(num_features, **kw)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, **kw))
            self.register_buffer("running_var", ones(num_features, **kw))
            self.register_buffer("num_batches_tracked", _tensor(0))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim not in self.expected_dims:
            dims = " or ".join(f"{d}D" for d in self.expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {dims} input, got shape "
                             f"{tuple(x.shape)}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            if momentum is None and capturing():
                raise RuntimeError(f"{type(self).__name__}(momentum=None) cannot be captured: "
                                   f"its momentum, 1 / batches, changes with every step")
            on_replay(self._count_batch)
            if momentum is None:   # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=momentum, eps=self.eps)

    def _count_batch(self):
        self.num_batches_tracked.data += 1   # a NumPy int on the host

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input."""
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input."""
    expected_dims = (4,)


class LayerNorm(Module):
    """Normalizes each sample over its last dimensions, ``normalized_shape``, as
    ``torch.nn.LayerNorm``; with ``elementwise_affine`` a weight (ones) and a bias
    (zeros) of that shape. Unlike BatchNorm, samples do not interact, so the
    gradient of the output with respect to one input sample is that sample's own,
    which is what a per-sample gradient penalty assumes.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=None,
                 device=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape, self.eps = tuple(shape), eps
        self.elementwise_affine = elementwise_affine
        kw = dict(dtype=dtype, device=device)
        self.weight = Parameter(ones(*self.normalized_shape, **kw)) if elementwise_affine else None
        self.bias = Parameter(zeros(*self.normalized_shape, **kw)) if elementwise_affine else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
