"""The WGAN-GP critic (Gulrajani et al., 2017): DCGAN's discriminator without BatchNorm.

A gradient penalty asks for ‖∇ₓ D(x)‖ of each sample alone; BatchNorm mixes the
samples of a batch, so the paper drops it from the critic and suggests layer
normalization instead. Layer for layer as ``DCGANDiscriminator``, each BatchNorm2d
replaced by a LayerNorm over (C, H, W) of its sample (or by nothing, norm="none"):

wgan28  Conv(nc→ndf, k4 s2 p1) LReLU(0.2) → Conv(ndf→2ndf, k4 s2 p1) LN([2ndf, 7, 7]) LReLU
        → Conv(2ndf→1, k7 s1 p0)
wgan64  Conv(nc→ndf) LReLU, Conv to 2ndf, 4ndf, 8ndf (k4 s2 p1, LN, LReLU 0.2),
        Conv(8ndf→1, k4 s1 p0)
The critic returns one unbounded score per image, shape (N, 1). The generator is
``DCGANGenerator``.
"""
from .. import nn
from ..data import default_channels
from .dcgan import check_image_size, dcgan_init

_NORMS = ("layer", "none")


class WGANCritic(nn.Module):
    """Images (N, nc, image_size, image_size) → scores (N, 1)."""

    def __init__(self, image_size=28, ndf=64, nc=None, norm="layer"):
        super().__init__()
        check_image_size(image_size)
        if norm not in _NORMS:
            raise ValueError(f"WGANCritic: norm must be one of {_NORMS}, got {norm!r}")
        nc = default_channels(image_size) if nc is None else nc
        self.norm = norm

        def block(c_in, c_out, size):   # conv k4 s2 p1 to (c_out, size, size), LN, LReLU
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                    *([nn.LayerNorm([c_out, size, size])] if norm == "layer" else []),
                    nn.LeakyReLU(0.2)]

        if image_size == 28:
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),   # 28 -> 14
                *block(ndf, ndf * 2, 7),                                      # 14 -> 7
                nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False))                   # 7 -> 1
        else:
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),   # 64 -> 32
                *block(ndf, ndf * 2, 16),                                     # 32 -> 16
                *block(ndf * 2, ndf * 4, 8),                                  # 16 -> 8
                *block(ndf * 4, ndf * 8, 4),                                  # 8 -> 4
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))                   # 4 -> 1
        dcgan_init(self)   # conv weights N(0, 0.02); LayerNorm keeps weight 1, bias 0

    def forward(self, x):
        return self.main(x).reshape(x.shape[0], 1)   # (N, 1, 1, 1) -> (N, 1)
