"""``minigan.nn``: modules and parameters, PyTorch's names."""
from . import init
from .layers import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, Identity,
                     LeakyReLU, Linear, ReLU, Sigmoid, Tanh)
from .module import Module, Parameter, Sequential
from .normalization import LayerNorm
from .pooling import AvgPool2d, Dropout, MaxPool2d
