"""Pooling layers: MaxPool2d, AvgPool2d."""
from .. import functional as F
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
