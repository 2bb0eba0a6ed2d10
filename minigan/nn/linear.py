"""Identity and Linear."""
from .. import functional as F
from ..tensor import zeros
from . import init
from .module import Module, Parameter


class Identity(Module):
    def forward(self, x):
        return x


class Linear(Module):
    """y = x Wᵀ + b; weight (out_features, in_features), PyTorch's default initialisation."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, device=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(zeros(out_features, in_features, dtype=dtype, device=device))
        self.bias = Parameter(zeros(out_features, dtype=dtype, device=device)) if bias else None
        init.default_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
