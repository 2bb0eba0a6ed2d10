"""``minigan.nn``: modules and parameters, PyTorch's names."""
from . import init
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .module import Module, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AvgPool2d, MaxPool2d
