"""Conv2d and ConvTranspose2d."""
from .. import functional as F
from ..ops._args import pair
from ..tensor import zeros
from . import init
from .module import Module, Parameter


class _Conv(Module):
    """What Conv2d and ConvTranspose2d share: arguments, a weight of ``weight_dims`` ×
    kernel, an optional bias, PyTorch's default initialisation."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, weight_dims, dtype, device):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels {in_channels} and "
                             f"out_channels {out_channels} must be divisible by groups {groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride, self.padding = pair(stride, "stride", name), pair(padding, "padding", name)
        self.dilation, self.groups = pair(dilation, "dilation", name), groups
        kw = dict(dtype=dtype, device=device)
        self.weight = Parameter(zeros(*weight_dims, *self.kernel_size, **kw))
        self.bias = Parameter(zeros(out_channels, **kw)) if bias else None
        # NOTE: fan_in comes from weight dim 1 for both, as in PyTorch (C_out/G for the transpose)
        init.default_init_(self.weight, self.bias)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Conv2d(_Conv):
    """2-D convolution; weight (out_channels, in_channels / groups, kH, kW), PyTorch's init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, dtype=None, device=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, (out_channels, in_channels // groups), dtype, device)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_Conv):
    """Transposed 2-D convolution; weight (in_channels, out_channels / groups, kH, kW), PyTorch's init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=None, device=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, (in_channels, out_channels // groups), dtype, device)
        self.output_padding = pair(output_padding, "output_padding", type(self).__name__)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)
