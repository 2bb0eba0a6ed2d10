"""Pixel scaling, written once: uint8 0..255 to the models' [-1, 1], and [0, 1] back to uint8.

The functions take NumPy or CuPy arrays alike: ``BatchStream`` scales on the device.
"""
import numpy as np


def to_signed_range(pixels):
    """uint8 0..255 (any shape, NumPy or CuPy) -> float32 in [-1, 1], the range of tanh.

    x = p / 127.5 - 1, in float32: 0 -> -1, 255 -> 1.
    """
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def to_unit_range(images):
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [-1, 1], the range of tanh.

    The name is historical: the range is ``to_signed_range``'s, not [0, 1].
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4:
        raise ValueError(f"to_unit_range: expected (N, H, W) or (N, C, H, W), got {images.shape}")
    return to_signed_range(images)


def to_uint8(x):
    """Floats in [0, 1] (any shape) -> uint8 0..255, rounded to nearest; the rest clipped."""
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
