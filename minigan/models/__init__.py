"""Ready-made GAN models: the classic MLP GAN and DCGAN (28×28×1 and 64×64×3)."""
from .classifier import Classifier, load_classifier, save_classifier
from .dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator
from .wgan import WGANCritic
