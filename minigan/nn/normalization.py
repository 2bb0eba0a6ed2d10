"""LayerNorm: normalization per sample, the critic's BatchNorm replacement in WGAN-GP."""
from .. import functional as F
from ..tensor import ones, zeros
from .module import Module, Parameter


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
