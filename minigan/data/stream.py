"""Shuffled batches: ``batches`` for a NumPy array, ``BatchStream`` for training on a device."""
import numpy as np

from .. import backend
from ..tensor import Tensor


def batches(array, batch_size, rng, drop_last=True):
    """One epoch of ``array`` in shuffled batches along axis 0.

    ``rng`` is a ``numpy.random.Generator``; the same seed gives the same batches.
    With ``drop_last`` the final short batch is skipped, so every batch has ``batch_size`` rows.
    """
    n = len(array)
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield array[order[start:start + batch_size]]


class BatchStream:
    """Shuffled batches of uint8 images, for ever, as float32 tensors in [-1, 1] on ``device``.

    The whole set is copied to the device once, so a batch is one gather and one
    scale there: the GPU never waits for the host. Epoch e is shuffled by a
    generator seeded with (seed, e), so ``state_dict()`` (the epoch and the
    position in it) is all a resumed run needs to continue with the same batches.
    Each epoch drops its last short batch.
    """

    def __init__(self, images, batch_size, seed=0, device="cpu", name=None):
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"BatchStream: expected uint8 (N, C, H, W), got {images.dtype} "
                             f"{images.shape}")
        if len(images) < batch_size:
            raise ValueError(f"BatchStream: {len(images)} images, fewer than one batch of "
                             f"{batch_size}")
        self.images = backend.to_device(images, device)
        self.arrays = backend.arrays_for(device)   # where batches are gathered and scaled
        self.batch_size, self.seed, self.device, self.name = batch_size, seed, device, name
        self.batches_per_epoch = len(images) // batch_size
        self.epoch, self.position = 0, 0   # position: batches already served in this epoch
        self._order = None

    def __len__(self):
        return len(self.images)

    def order(self, epoch):
        """The permutation of epoch ``epoch``."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.images))

    def next(self):
        if self.position == self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        if self._order is None or self._order[0] != self.epoch:
            # the epoch's order, where the images are: on a GPU one copy an epoch
            self._order = (self.epoch, backend.to_device(self.order(self.epoch), self.device))
        start = self.position * self.batch_size
        self.position += 1
        # NOTE: scale on the device: 4 times less to hold there than float32 images.
        return Tensor(self.arrays.gather_batch(self.images, self._order[1], start,
                                               self.batch_size))

    __next__ = next

    def __iter__(self):
        return self

    def state_dict(self):
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "batch_size": self.batch_size, "n": len(self.images), "name": self.name}

    def load_state_dict(self, state):
        if (state["n"], state["name"]) != (len(self.images), self.name):
            raise ValueError(f"the saved position is in {state['n']} images of {state['name']}, "
                             f"this stream has {len(self.images)} images of {self.name}")
        if state["batch_size"] != self.batch_size:
            raise ValueError(f"the saved position is in batches of {state['batch_size']}, this "
                             f"stream makes batches of {self.batch_size}")
        self.seed, self.epoch, self.position = state["seed"], state["epoch"], state["position"]
        self._order = None
