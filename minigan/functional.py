"""``minigan.functional`` (import as ``F``): the stateless layer functions, PyTorch's names."""
from .ops import (batch_norm, binary_cross_entropy, binary_cross_entropy_with_logits, leaky_relu,
                  linear, logsigmoid, mse_loss, relu, sigmoid, softplus, tanh)
from .ops import conv2d, conv_transpose2d

__all__ = ["batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv2d",
           "conv_transpose2d", "leaky_relu", "linear", "logsigmoid", "mse_loss", "relu", "sigmoid",
           "softplus", "tanh"]
