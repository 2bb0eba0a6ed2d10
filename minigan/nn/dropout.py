"""Dropout."""
import numpy as np

from ..random import rand
from .module import Module


class Dropout(Module):
    """Zeroes each element with probability p while training, scaling the rest by 1 / (1 - p).

        y = x · m / (1 - p),   m ~ Bernoulli(1 - p) from minigan's seeded generator
    so the expected value is x in both modes; in eval mode y = x.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        # NOTE: float64 numbers drawn where x is (its namespace's uniform): the Philox stream
        # gives the same bits on every device, so a seed gives the same mask on every device.
        u = rand(*x.shape, dtype=np.float64, device=x.device).data
        mask = ((u >= self.p) / (1 - self.p)).astype(x.dtype)
        return x * mask   # a constant: gx = gy · mask

    def extra_repr(self):
        return f"p={self.p}"
