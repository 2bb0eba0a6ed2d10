"""Pixel scaling, written once: uint8 0..255 to the models' [-1, 1], and [0, 1] back to uint8.

The functions take NumPy or CuPy arrays alike: ``BatchStream`` scales on the device.
"""
import numpy as np


def to_tanh_range(pixels):
    """uint8 0..255 (any shape, NumPy or CuPy) -> float32 in [-1, 1], the range of tanh.

    x = p / 127.5 - 1, in float32: 0 -> -1, 255 -> 1. The shape is kept: MNIST's
    (N, H, W) arrays get their channel axis from the caller, ``images[:, None]``.
    """
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def to_uint8(x):
    """Floats in [0, 1] (any shape) -> uint8 0..255, rounded to nearest; the rest clipped."""
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
