"""DCGAN (Radford et al., 2015) for 28×28×1 (``dcgan28``) and 64×64×3 (``dcgan64``).

Layer for layer as PyTorch's DCGAN example (no biases; BatchNorm after every conv
but the generator's output layer and the discriminator's input and output layers):

dcgan28  G: ConvT(nz→4ngf, k7 s1 p0) BN ReLU → ConvT(4ngf→2ngf, k4 s2 p1) BN ReLU
            → ConvT(2ngf→nc, k4 s2 p1) Tanh                      (ngf = 64: 256, 128)
         D: Conv(nc→ndf, k4 s2 p1) LReLU(0.2) → Conv(ndf→2ndf, k4 s2 p1) BN LReLU
            → Conv(2ndf→1, k7 s1 p0)                             (ndf = 64)
dcgan64  G: ConvT(nz→8ngf, k4 s1 p0), then ×2 upsampling ConvT(k4 s2 p1) to 4ngf, 2ngf,
            ngf, each with BN ReLU, then ConvT(ngf→nc, k4 s2 p1) Tanh
         D: Conv(nc→ndf) LReLU, Conv to 2ndf, 4ndf, 8ndf (k4 s2 p1, BN, LReLU 0.2),
            Conv(8ndf→1, k4 s1 p0)
The discriminator returns one logit per image, shape (N, 1).
"""
from .. import nn
from ..data import default_channels

IMAGE_SIZES = (28, 64)   # the sizes there is a layer stack for


def check_image_size(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"DCGAN: image_size must be one of {IMAGE_SIZES}, got {image_size}")


class DCGANGenerator(nn.Module):
    """z of shape (N, nz) or (N, nz, 1, 1) → images (N, nc, image_size, image_size) in [-1, 1]."""

    def __init__(self, image_size=28, nz=100, ngf=64, nc=None):
        super().__init__()
        check_image_size(image_size)
        nc = default_channels(image_size) if nc is None else nc
        self.nz = nz
        if image_size == 28:
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False),        # 1 -> 7
                nn.BatchNorm2d(ngf * 4), nn.ReLU(),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),   # 7 -> 14
                nn.BatchNorm2d(ngf * 2), nn.ReLU(),
                nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),        # 14 -> 28
                nn.Tanh())
        else:
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),        # 1 -> 4
                nn.BatchNorm2d(ngf * 8), nn.ReLU(),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),   # 4 -> 8
                nn.BatchNorm2d(ngf * 4), nn.ReLU(),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),   # 8 -> 16
                nn.BatchNorm2d(ngf * 2), nn.ReLU(),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),       # 16 -> 32
                nn.BatchNorm2d(ngf), nn.ReLU(),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),            # 32 -> 64
                nn.Tanh())
        dcgan_init(self)

    def forward(self, z):
        if z.ndim == 2:
            z = z.reshape(z.shape[0], z.shape[1], 1, 1)   # (N, nz) -> (N, nz, 1, 1)
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """Images (N, nc, image_size, image_size) → logits (N, 1)."""

    def __init__(self, image_size=28, ndf=64, nc=None):
        super().__init__()
        check_image_size(image_size)
        nc = default_channels(image_size) if nc is None else nc
        if image_size == 28:
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),                     # 28 -> 14
                nn.LeakyReLU(0.2),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),                # 14 -> 7
                nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False))                  # 7 -> 1
        else:
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),                     # 64 -> 32
                nn.LeakyReLU(0.2),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),                # 32 -> 16
                nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),            # 16 -> 8
                nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),            # 8 -> 4
                nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2),
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))                  # 4 -> 1
        dcgan_init(self)

    def forward(self, x):
        return self.main(x).reshape(x.shape[0], 1)   # (N, 1, 1, 1) -> (N, 1)


def dcgan_init(model):
    """The DCGAN paper's initialisation: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02),
    bias 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return model
