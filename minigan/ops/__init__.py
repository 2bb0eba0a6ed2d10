"""Every differentiable op. Each file groups related ops; each op is a ``Function``
subclass (forward above backward, the math in its docstring) and a lowercase function."""
from .activation import leaky_relu, logsigmoid, relu, sigmoid, softplus, tanh
from .arith import (abs, add, cast, clamp, clone, div, exp, log, matmul, mul, neg, pow, sqrt, sub,
                    to_device, where)
from .conv import conv2d, conv_transpose2d
from .loss import binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss
from .norm import batch_norm
from .reduce import argmax, max, mean, min, sum, var
from .shape import (broadcast_to, cat, expand, flatten, getitem, permute, reshape, squeeze, stack,
                    sum_to, transpose, unsqueeze)


def linear(input, weight, bias=None):
    """y = x Wᵀ + b, with W of shape (out_features, in_features) as in PyTorch."""
    if weight.ndim != 2 or input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} has "
                         f"{input.shape[-1] if input.ndim else 0} features but weight of shape "
                         f"{tuple(weight.shape)} expects {weight.shape[-1]}")
    y = matmul(input, transpose(weight, 0, 1))
    return y if bias is None else y + bias
