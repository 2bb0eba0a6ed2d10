"""Layers without parameters for classifiers: MaxPool2d, AvgPool2d, Dropout."""
from .. import backend, functional as F
from ..random import generator
from .module import Module


class _Pool2d(Module):
    """Shared by MaxPool2d and AvgPool2d: PyTorch's arguments; ``stride`` defaults to
    ``kernel_size``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """2-D max pooling."""

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """2-D average pooling (the padding counts in the mean, PyTorch's default)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Dropout(Module):
    """Zeroes each element with probability p while training, scaling the rest by 1 / (1 - p).

        y = x · m / (1 - p),   m ~ Bernoulli(1 - p) from minigan's seeded generator
    so the expected value is x in both modes; in eval mode y = x.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        # NOTE: drawn on the CPU and moved, so a seed gives the same mask on every device.
        keep = generator().random(x.shape) >= self.p
        mask = backend.to_device((keep / (1 - self.p)).astype(x.dtype), x.device)
        return x * mask   # a constant: gx = gy · mask

    def extra_repr(self):
        return f"p={self.p}"
