"""Every differentiable op. Each file groups related ops; each op is a ``Function``
subclass (forward above backward, the math in its docstring) and a lowercase function."""
from .activation import leaky_relu, logsigmoid, relu, sigmoid, softplus, tanh
from .affine import linear
from .arith import (abs, add, add_into, cast, clamp, clone, div, exp, log, matmul, mul, neg, pow,
                    sqrt, sub,
                    to_device, where)
from .classification import cross_entropy, log_softmax, nll_loss, softmax
from .conv import conv2d, conv_transpose2d
from .loss import binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss
from .normalization import batch_norm, layer_norm
from .pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .reduce import argmax, max, mean, min, sum, var
from .shape import (broadcast_to, cat, expand, flatten, getitem, permute, reshape, squeeze, stack,
                    sum_to, transpose, unsqueeze)

