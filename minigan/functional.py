"""``minigan.functional`` (import as ``F``): the stateless layer functions, PyTorch's names."""
from .ops import (batch_norm, binary_cross_entropy, binary_cross_entropy_with_logits, leaky_relu,
                  linear, logsigmoid, mse_loss, relu, sigmoid, softplus, tanh)
from .ops import conv2d, conv_transpose2d
from .ops import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .ops import cross_entropy, log_softmax, nll_loss, softmax
from .ops import layer_norm

__all__ = ["batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv2d",
           "conv_transpose2d", "leaky_relu", "linear", "logsigmoid", "mse_loss", "relu", "sigmoid",
           "softplus", "tanh"]
__all__ += ["adaptive_avg_pool2d", "avg_pool2d", "cross_entropy", "log_softmax", "max_pool2d",
            "nll_loss", "softmax"]
__all__ += ["layer_norm"]
