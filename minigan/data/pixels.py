"""Pixel scaling: uint8 images to the float range the models see."""
import numpy as np


def to_unit_range(images):
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [-1, 1], the range of tanh."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4:
        raise ValueError(f"to_unit_range: expected (N, H, W) or (N, C, H, W), got {images.shape}")
    return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
