"""The ready-made GAN models: layer for layer as PyTorch's DCGAN and MLP-GAN reference models
(the layouts benchmarks/torch_steps.py builds in PyTorch)."""
import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import models, nn


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_mlp_gan_architecture_and_shapes():
    G, D = models.MLPGenerator(), models.MLPDiscriminator()
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [b.num_features for b in bns] == [256, 512, 1024] and all(b.eps == 0.8 for b in bns)
    assert [(m.in_features, m.out_features) for m in D.modules() if isinstance(m, nn.Linear)] == [
        (784, 512), (512, 256), (256, 1)]
    img = G(minigan.randn(4, 100))
    assert img.shape == (4, 1, 28, 28) and np.abs(img.numpy()).max() <= 1
    assert D(img).shape == (4, 1)


def test_mlp_gan_step_reduces_discriminator_loss():
    minigan.manual_seed(0)
    G, D = models.MLPGenerator(), models.MLPDiscriminator()
    opt = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = minigan.rand(16, 1, 28, 28) * 2 - 1
    with minigan.no_grad():
        fake = G(minigan.randn(16, 100))
    losses = []
    for _ in range(5):
        loss = (F.binary_cross_entropy_with_logits(D(real), minigan.ones(16, 1))
                + F.binary_cross_entropy_with_logits(D(fake), minigan.zeros(16, 1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("size,nc", [(28, 1), (64, 3)])
def test_dcgan_shapes_and_init(size, nc):
    minigan.manual_seed(0)
    G = models.DCGANGenerator(image_size=size)
    D = models.DCGANDiscriminator(image_size=size)
    assert all(m.bias is None for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    convs = [m.weight.numpy() for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert abs(np.concatenate([c.ravel() for c in convs]).std() - 0.02) < 0.002
    bn_w = np.concatenate([m.weight.numpy() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn_w.mean() - 1) < 0.01 and abs(bn_w.std() - 0.02) < 0.005
    img = G(minigan.randn(2, 100))
    assert img.shape == (2, nc, size, size)
    assert D(img).shape == (2, 1)


def test_dcgan28_layers_match_anchor():
    G, D = models.DCGANGenerator(28), models.DCGANDiscriminator(28)
    g = [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
         for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert g == [(100, 256, 7, 1, 0), (256, 128, 4, 2, 1), (128, 1, 4, 2, 1)]
    d = [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
         for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert d == [(1, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, 1, 7, 1, 0)]
    with pytest.raises(ValueError, match="image_size must be one of"):
        models.DCGANGenerator(32)
