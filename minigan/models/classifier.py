"""A small CNN classifier for 28×28 grayscale images, and its checkpoints.

It is the feature extractor of ``minigan.metrics.classifier_fid``: trained on the
GAN's own domain (examples/train_classifier.py), its penultimate layer stands in
for Inception's pool features, which cannot be downloaded here.

    features: Conv(c→w, k3 p1) BN ReLU MaxPool(2)          28 -> 14
              Conv(w→2w, k3 p1) BN ReLU MaxPool(2)         14 -> 7
              Flatten, Linear(2w·7·7→hidden) ReLU          the features, (N, hidden)
    head:     Dropout(p), Linear(hidden→classes)            logits, (N, classes)

Images come in as the GAN's do: (N, c, 28, 28) floats in [-1, 1] (``data.to_tanh_range``).
"""
from .. import nn
from ..serialization import load, save

ARCHITECTURE = "cnn-classifier-v1"


class Classifier(nn.Module):
    def __init__(self, width=32, hidden=128, num_classes=10, in_channels=1, image_size=28,
                 dropout=0.3):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"Classifier: image_size must be a multiple of 4, got {image_size}")
        self.config = dict(width=width, hidden=hidden, num_classes=num_classes,
                           in_channels=in_channels, image_size=image_size, dropout=dropout)
        side = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),             # 28 x 28
            nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),              # -> 14 x 14
            nn.Conv2d(width, 2 * width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),          # -> 7 x 7
            nn.Flatten(),                                                   # (N, 2w·7·7)
            nn.Linear(2 * width * side * side, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def features(self, x):
        """The penultimate activations, (N, hidden): what classifier_fid compares."""
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def save_classifier(model, path, **meta):
    """``minigan.save`` of the weights, the architecture and its arguments, and ``meta``
    (dataset, test_accuracy, ...)."""
    save(dict(architecture=ARCHITECTURE, config=dict(model.config),
              state_dict=model.state_dict(), **meta), path)


def load_classifier(path, map_location=None):
    """The classifier saved by ``save_classifier``, in eval mode.

    The checkpoint's other entries (dataset, test_accuracy, ...) are in ``model.meta``.
    """
    checkpoint = load(path, map_location=map_location)
    if not isinstance(checkpoint, dict) or checkpoint.get("architecture") != ARCHITECTURE:
        found = checkpoint.get("architecture") if isinstance(checkpoint, dict) else None
        raise ValueError(f"load_classifier: {path} is not a classifier checkpoint (architecture "
                         f"{found!r}, expected {ARCHITECTURE!r})")
    model = Classifier(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    if map_location is not None:
        model.to(map_location)
    model.meta = {k: v for k, v in checkpoint.items()
                  if k not in ("architecture", "config", "state_dict")}
    return model.eval()
