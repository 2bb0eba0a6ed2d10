"""A folder of image files as one uint8 array, and resizing an image set (Pillow)."""
import concurrent.futures
import os

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(folder):
    """Every image file under ``folder`` (recursively), sorted, by extension."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
    return found


def load_image_folder(folder, image_size=64, channels=3, limit=None, workers=4):
    """Images under ``folder``, each resized (shorter side) and center-cropped: uint8 (N, C, S, S).

    ``channels`` 1 converts to grayscale, 3 to RGB. Unreadable files are skipped;
    returns (images, number skipped).
    """
    from PIL import Image, ImageOps

    files = image_files(folder)[:limit]
    mode = "L" if channels == 1 else "RGB"

    def one(path):
        try:
            with Image.open(path) as im:
                im = ImageOps.fit(im.convert(mode), (image_size, image_size), Image.BICUBIC)
                a = np.asarray(im, dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)   # (H, W, C) -> (C, H, W)

    # NOTE: threads pay off: Pillow releases the GIL while it decodes and resizes.
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        decoded = list(pool.map(one, files))
    good = [a for a in decoded if a is not None]
    images = (np.stack(good) if good
              else np.zeros((0, channels, image_size, image_size), np.uint8))
    return images, len(decoded) - len(good)


def resize_images(images, image_size):
    """uint8 (N, C, H, W) -> (N, C, S, S), bilinear (MNIST's 28×28 for a 64×64 model)."""
    from PIL import Image
    n, c, h, w = images.shape
    if (h, w) == (image_size, image_size):
        return images
    out = np.empty((n, c, image_size, image_size), np.uint8)
    for i in range(n):
        for j in range(c):
            im = Image.fromarray(images[i, j]).resize((image_size, image_size), Image.BILINEAR)
            out[i, j] = np.asarray(im)
    return out
