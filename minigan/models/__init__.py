"""Ready-made GAN models: the classic MLP GAN and DCGAN (28×28×1 and 64×64×3)."""
from .classifier import Classifier, load_classifier, save_classifier
from .dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator
from .wgan import WGANCritic


def build_gan(arch, device="cpu"):
    """(G, D) for an architecture record, as a training checkpoint stores it:
    {"model": "dcgan" | "wgan-gp" | "mlp-gan", "image_size": 28, "nz": 100, "nc": 1, ...}
    (dcgan and wgan-gp also "ngf", "ndf"; wgan-gp "norm")."""
    model, size, nz, nc = arch.get("model"), arch.get("image_size"), arch.get("nz"), arch.get("nc")
    if model == "dcgan":
        G, D = DCGANGenerator(size, nz, arch["ngf"], nc), DCGANDiscriminator(size, arch["ndf"], nc)
    elif model == "wgan-gp":
        G = DCGANGenerator(size, nz, arch["ngf"], nc)
        D = WGANCritic(size, arch["ndf"], nc, arch["norm"])
    elif model == "mlp-gan":
        G, D = MLPGenerator(nz, (nc, size, size)), MLPDiscriminator((nc, size, size))
    else:
        raise ValueError(f"build_gan: unknown model {model!r} (dcgan, wgan-gp or mlp-gan)")
    return G.to(device), D.to(device)
