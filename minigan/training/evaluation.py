"""Sample quality at each checkpoint: the classifier-FID of the generator."""
import os

import numpy as np

import minigan
from .. import backend
from ..data import SOURCES, DownloadError
from ..metrics import classifier_features, fid, load_classifier
from .checkpoint import rng_state, set_rng_state
from .errors import EvaluationError, NoTestSet


def fid_reference(data, log=None):
    """(uint8 images, description): the real images a run's FID compares with: the test
    split of a source that has one (``Source.test_files``: MNIST and Fashion-MNIST, found
    beside the training files, else downloaded), as the run's images; else the training
    images."""
    source = SOURCES.get(data.name)
    if source is None or not source.test_files:
        return data.images, f"the {len(data.images)} {data.name} training images"
    try:
        images = source.load_test(data.source, data.images.shape[-1], log=log)
    except (DownloadError, ValueError, OSError) as e:
        raise NoTestSet(f"no {data.name} test set for the FID: {e}".split("\n")[0]) from None
    return images, f"the {len(images)} {data.name} test images"


class ClassifierFID:
    """The classifier-FID of a generator (``metrics.classifier_fid``) at each checkpoint.

    The real features are computed once. The generator draws ``n`` images in eval mode
    from noise of its own NumPy generator (``seed``), the same noise at every call: two
    scores differ by the weights alone, and the run's random streams are left untouched,
    so a resumed run stays exact.
    """

    def __init__(self, path, real_images, nz, n, device, seed=0, batch_size=500):
        if not os.path.isfile(path):
            raise EvaluationError(f"classifier checkpoint {path}: no such file")
        # NOTE: building the classifier draws initial weights (then replaced by the loaded
        # ones) from minigan's generator: put its state back, the run's noise must not move.
        state = rng_state()
        try:
            self.classifier = load_classifier(path).to(device)
        except ValueError as e:   # CheckpointError is a ValueError
            raise EvaluationError(f"classifier checkpoint: {e}") from None
        finally:
            set_rng_state(state)
        config = self.classifier.config
        takes = (config["in_channels"], config["image_size"], config["image_size"])
        if tuple(real_images.shape[1:]) != takes:
            raise EvaluationError(f"classifier {path} takes {'x'.join(map(str, takes))} images "
                                  f"but the run's are {'x'.join(map(str, real_images.shape[1:]))}")
        self.batch_size, self.device = batch_size, device
        self.real = classifier_features(self.classifier, real_images, batch_size)
        self.z = np.random.default_rng(seed).standard_normal((n, nz)).astype(np.float32)

    def __call__(self, G):
        was_training = G.training
        G.eval()
        images = []
        try:
            with minigan.no_grad():
                for start in range(0, len(self.z), self.batch_size):
                    z = minigan.tensor(self.z[start:start + self.batch_size], device=self.device)
                    images.append(backend.to_device(G(z).data, "cpu"))   # (B, C, H, W)
        finally:
            G.train(was_training)
        fake = classifier_features(self.classifier, np.concatenate(images), self.batch_size)
        return fid(fake, self.real)
