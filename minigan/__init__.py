"""minigan: a from-scratch tensor library with reverse-mode autograd, built to train GANs.

The API follows PyTorch's names: ``minigan.tensor``, ``Tensor.backward``,
``minigan.no_grad``, ``minigan.functional`` (as ``F``), ``minigan.nn``,
``minigan.optim.Adam``.
"""
# Tensor first: tensor.py closes the import cycle with the ops and the engine (see its end).
from .tensor import (Tensor, arange, bool_, float16, float32, float64, full, full_like,
                     get_default_dtype, int32, int64, ones, ones_like, set_default_dtype, tensor,
                     zeros, zeros_like)
from . import autograd, cuda
from .autograd import enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import gpu_available
from .ops import (abs, argmax, cat, clamp, exp, flatten, log, matmul, max, mean, min, permute,
                  reshape, sigmoid, sqrt, squeeze, stack, sum, tanh, transpose, unsqueeze, var,
                  where)
from .random import (get_rng_state, manual_seed, rand, rand_like, randint, randn, randn_like,
                     randperm, set_rng_state)
from . import functional, metrics, models, nn, optim  # noqa: E402
from .serialization import load, save  # noqa: E402
from .threads import get_num_threads, set_num_threads  # noqa: E402


__version__ = "0.1.0"
