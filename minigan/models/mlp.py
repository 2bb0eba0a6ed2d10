"""The classic fully connected GAN (Goodfellow et al., 2014), as in the well-known reference code.

G: z (100) → 128 → 256 → 512 → 1024 → 784, LeakyReLU(0.2) between layers,
   BatchNorm1d(out, eps=0.8) after every hidden layer but the first, Tanh at the end.
D: 784 → 512 → 256 → 1 with LeakyReLU(0.2); the output is a logit (use BCE with logits).
"""
import numpy as np

from .. import nn


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim=100, img_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim, self.img_shape = latent_dim, tuple(img_shape)

        def block(n_in, n_out, normalize=True):
            layers = [nn.Linear(n_in, n_out)]
            if normalize:
                # NOTE: the second argument is eps = 0.8, as in the reference code (not momentum).
                layers.append(nn.BatchNorm1d(n_out, 0.8))
            layers.append(nn.LeakyReLU(0.2))
            return layers

        self.model = nn.Sequential(
            *block(latent_dim, 128, normalize=False),
            *block(128, 256),
            *block(256, 512),
            *block(512, 1024),
            nn.Linear(1024, int(np.prod(img_shape))),
            nn.Tanh(),
        )

    def forward(self, z):
        img = self.model(z)
        return img.reshape(img.shape[0], *self.img_shape)   # (N, 784) -> (N, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self, img_shape=(1, 28, 28)):
        super().__init__()
        self.model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(int(np.prod(img_shape)), 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )

    def forward(self, img):
        return self.model(img)   # a logit per image: (N, 1)
