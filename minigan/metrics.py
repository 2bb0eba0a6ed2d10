"""Sample quality: the Fréchet distance between two sets of features (FID), and its domain
version on the features of a classifier trained with minigan.

FID (Heusel et al., 2017) fits a Gaussian to each set and measures

    d² = ‖μa - μb‖² + Tr(Σa + Σb - 2 (Σa Σb)^{1/2})

on Inception's pool features. Those cannot be downloaded here, so
``classifier_fid`` uses the penultimate layer of ``minigan.models.Classifier``
(examples/train_classifier.py) instead: numbers compare runs scored with the
same classifier checkpoint, never published FIDs.

In a training loop, compute the real features once:

    classifier = metrics.load_classifier("runs/classifier_fashion-mnist.npz")
    real = metrics.classifier_features(classifier, test_images)       # uint8 or [-1, 1]
    score = metrics.fid(metrics.classifier_features(classifier, fake_images), real)

or ``metrics.classifier_fid(classifier, fake_images, test_images)`` for a one-off.
"""
import numpy as np

from . import backend
from .autograd.grad_mode import no_grad
from .data import to_tanh_range
from .models.classifier import load_classifier  # noqa: F401  (metrics.load_classifier)
from .tensor import Tensor, tensor

__all__ = ["fid", "sqrtm_psd", "classifier_features", "classifier_fid", "label_histogram",
           "load_classifier"]


def sqrtm_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix, in float64.

    matrix = V diag(λ) Vᵀ (symmetric eigendecomposition)  ->  V diag(√λ) Vᵀ
    with the eigenvalues that rounding cannot tell from 0 set to 0 (see ``_psd_eigh``).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"sqrtm_psd: expected a square matrix, got shape {m.shape}")
    lam, v = _psd_eigh(m)
    root = (v * np.sqrt(lam)) @ v.T
    return (root + root.T) / 2   # exactly symmetric, as S Σb S below needs


def _psd_eigh(m, vectors=True):
    """Eigenvalues (and vectors) of a matrix that is PSD up to rounding, the small ones zeroed.

    NOTE: rounding leaves m slightly asymmetric and its zero eigenvalues at about
    ±D·eps·λmax; their square roots would be ±1e-8·√λmax, noise far larger than the
    rounding itself. So: symmetrize, and zero every λ under D·eps·λmax (as a pseudo-inverse's
    rcond does).
    """
    m = (m + m.T) / 2
    lam, v = np.linalg.eigh(m) if vectors else (np.linalg.eigvalsh(m), None)
    tol = len(m) * np.finfo(np.float64).eps * max(np.abs(lam).max(initial=0), 1e-300)
    lam = np.where(lam > tol, lam, 0.0)
    return (lam, v) if vectors else lam


def fid(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets, (Na, D) and (Nb, D).

    NumPy arrays or tensors, one row per sample, at least 2 rows each; computed in float64.
    With S = Σa^{1/2}, the matrices Σa Σb = S (S Σb) and S Σb S = (S Σb) S share their
    eigenvalues, and S Σb S is symmetric PSD, so
        Tr((Σa Σb)^{1/2}) = Σ √λ(S Σb S)
    needs only symmetric eigendecompositions: stable when Σa or Σb is singular (fewer
    samples than features, dead units), where inverting or a general sqrtm is not.
    """
    a = _feature_matrix(features_a, "features_a")
    b = _feature_matrix(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"fid: features_a of shape {a.shape} and features_b of shape {b.shape} "
                         f"have different feature sizes")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    # (D, D); np.cov returns a 0-d array for D = 1
    cov_a = np.atleast_2d(np.cov(a, rowvar=False, ddof=1))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False, ddof=1))
    s = sqrtm_psd(cov_a)
    tr_sqrt = np.sqrt(_psd_eigh(s @ cov_b @ s, vectors=False)).sum()
    d2 = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt
    # NOTE: d² ≥ 0 in exact arithmetic; for equal sets rounding can leave -1e-13.
    return float(max(d2, 0.0))


def _feature_matrix(x, name):
    """Feature rows, an array or tensor, as a NumPy float64 (N, D), N ≥ 2."""
    if isinstance(x, Tensor):
        x = backend.to_device(x.data, "cpu")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"fid: {name} must be 2-D (N, D) with N ≥ 2 samples, got shape "
                         f"{x.shape}")
    return x


def _float_images(images):
    """uint8 0..255 or floats in [-1, 1], (N, H, W) or (N, C, H, W), array or tensor
    -> a NumPy float32 (N, C, H, W) in [-1, 1]."""
    if isinstance(images, Tensor):
        images = backend.to_device(images.data, "cpu")
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]   # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W) or (N, C, H, W), got "
                         f"{images.shape}")
    if images.dtype == np.uint8:
        return to_tanh_range(images)
    return images.astype(np.float32, copy=False)


def _batched(classifier, images, batch_size, fn):
    """fn(classifier, batch) over ``images`` in eval mode without a graph, as one NumPy array."""
    images = _float_images(images)
    device = next(iter(classifier.parameters())).device
    was_training = classifier.training
    classifier.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, len(images), batch_size):
                batch = tensor(images[start:start + batch_size], device=device)
                out.append(backend.to_device(fn(classifier, batch).data, "cpu"))
    finally:
        classifier.train(was_training)
    return np.concatenate(out)


def classifier_features(classifier, images, batch_size=500):
    """The classifier's penultimate features of ``images``, float64 (N, hidden).

    images: uint8 (N, 28, 28) as stored, or floats in [-1, 1] (N, 1, 28, 28) as a
    generator's tanh gives them; NumPy arrays or tensors.
    """
    return _batched(classifier, images, batch_size, lambda c, x: c.features(x)).astype(np.float64)


def classifier_fid(classifier, images_a, images_b, batch_size=500):
    """``fid`` of the classifier's penultimate features of two image sets (see
    ``classifier_features`` for the formats). Lower is closer; the FID of two halves of the
    real test set is the floor that sampling noise alone gives."""
    return fid(classifier_features(classifier, images_a, batch_size),
               classifier_features(classifier, images_b, batch_size))


def label_histogram(classifier, images, batch_size=500):
    """How many images the classifier puts in each class, an int array (num_classes,).

    A generator that dropped a mode shows a class with (almost) no images.
    """
    labels = _batched(classifier, images, batch_size, lambda c, x: c(x).argmax(1))
    return np.bincount(labels, minlength=classifier.config["num_classes"])
