"""A built-in synthetic image set: one anti-aliased shape per image, drawn from a seed."""
import numpy as np

from .pixels import to_uint8


def synthetic_images(n, image_size=28, channels=1, seed=0):
    """``n`` procedurally drawn images, uint8 (n, channels, image_size, image_size).

    Each image holds one shape (disk, ring, square, plus, stroke or triangle) at a
    random place, size and angle, anti-aliased over one pixel; on 3 channels the
    shape is a bright random color on a dark one, and half the images get a
    second shape. The same seed gives the same images; no file or network needed.
    """
    rng = np.random.default_rng(seed)
    s = image_size
    out = np.empty((n, channels, s, s), np.uint8)
    chunk = 512
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        if channels == 1:
            alpha = _shape_coverage(rng, m, s)                    # (m, s, s) in [0, 1]
            level = rng.uniform(0.75, 1.0, (m, 1, 1))
            img = (alpha * level)[:, None]                        # (m, 1, s, s)
        else:
            background = rng.uniform(0.0, 0.3, (m, channels, 1, 1)).astype(np.float32)
            img = np.broadcast_to(background, (m, channels, s, s))
            for layer in range(2):
                alpha = _shape_coverage(rng, m, s)[:, None]       # (m, 1, s, s)
                if layer == 1:
                    alpha *= rng.random((m, 1, 1, 1)) < 0.5
                color = rng.uniform(0.0, 1.0, (m, channels, 1, 1)).astype(np.float32)
                color[np.arange(m), rng.integers(0, channels, m)] = 1.0   # one bright channel
                img = img + (color - img) * alpha
        out[start:start + m] = to_uint8(img)
    return out


def _shape_coverage(rng, m, s):
    """Coverage in [0, 1] of ``m`` random shapes on an s×s grid, from their signed distances."""
    kind = rng.integers(0, 6, m)
    cy, cx = rng.uniform(0.35 * s, 0.65 * s, (2, m, 1, 1)).astype(np.float32)
    r = rng.uniform(0.18 * s, 0.32 * s, (m, 1, 1)).astype(np.float32)
    w = np.maximum(rng.uniform(0.07 * s, 0.12 * s, (m, 1, 1)), 1.5).astype(np.float32)
    angle = rng.uniform(0, np.pi, (m, 1, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5              # pixel centers
    dy, dx = yy - cy, xx - cx
    # rotate into the shape's frame
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    sdf = np.empty((m, s, s), np.float32)
    for k, distance in enumerate([
            lambda u, v, r, w: np.hypot(u, v) - r,                                  # disk
            lambda u, v, r, w: np.abs(np.hypot(u, v) - r) - w / 2,                  # ring
            lambda u, v, r, w: _box(u, v, 0.8 * r, 0.8 * r),                        # square
            lambda u, v, r, w: np.minimum(_box(u, v, r, w / 2), _box(u, v, w / 2, r)),  # plus
            lambda u, v, r, w: _box(u, v, r, 0.0) - w / 2,                          # stroke
            lambda u, v, r, w: _triangle(u, v, 1.8 * r)]):                          # triangle
        i = kind == k
        sdf[i] = distance(u[i], v[i], r[i], w[i])
    # NOTE: coverage = 0.5 - distance, clipped: a one-pixel ramp, cheap anti-aliasing.
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _box(u, v, hu, hv):
    """Signed distance to the rectangle |u| ≤ hu, |v| ≤ hv."""
    qu, qv = np.abs(u) - hu, np.abs(v) - hv
    outside = np.hypot(np.maximum(qu, 0), np.maximum(qv, 0))
    return outside + np.minimum(np.maximum(qu, qv), 0)


def _triangle(u, v, r):
    """Signed distance to the equilateral triangle of side ``r`` centered on 0 (Inigo Quilez)."""
    k = np.sqrt(3.0)
    px, py = np.abs(u) - r / 2, v + r / (2 * k)
    flip = px + k * py > 0
    px, py = np.where(flip, (px - k * py) / 2, px), np.where(flip, (-k * px - py) / 2, py)
    px = px - np.clip(px, -r, 0)
    return -np.hypot(px, py) * np.sign(py)
