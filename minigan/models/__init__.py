"""Ready-made GAN models: the classic MLP GAN and DCGAN (28×28×1 and 64×64×3)."""
from .dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator
