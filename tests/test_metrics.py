"""FID and the classifier-FID pipeline: closed forms, symmetry, rank-deficient covariances,
the matrix square root, and end-to-end runs of examples/train_classifier.py and
examples/evaluate.py on a tiny synthetic dataset written as IDX files."""
import importlib.util
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
from minigan import metrics
from minigan.data import write_idx
from minigan.models import Classifier, DCGANGenerator, load_classifier
from minigan.training import ClassifierFID

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def with_moments(rng, n, mean, cov):
    """n samples whose sample mean and covariance (ddof=1) are exactly ``mean`` and ``cov``."""
    z = rng.standard_normal((n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)).T)   # sample cov = I
    return z @ metrics.sqrtm_psd(cov) + mean


def random_psd(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T


# ---- fid ----
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(2, 40), d=st.integers(1, 12))
def test_fid_of_a_set_with_itself_is_zero(seed, n, d):
    a = np.random.default_rng(seed).standard_normal((n, d)) * 3 + 1
    assert metrics.fid(a, a) == pytest.approx(0, abs=1e-9 * d)   # n < d: rank-deficient too


@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(1, 8))
def test_fid_of_a_shifted_set_is_the_squared_shift(seed, d):
    rng = np.random.default_rng(seed)
    a, shift = rng.standard_normal((50, d)), rng.standard_normal(d)
    assert metrics.fid(a, a + shift) == pytest.approx((shift ** 2).sum(), rel=1e-9, abs=1e-9)


def test_fid_matches_the_closed_form_of_two_gaussians():
    """Diagonal: ‖μa - μb‖² + Σ (σa - σb)²; in general Tr((Σa Σb)^{1/2}) from eig(Σa Σb)."""
    rng = np.random.default_rng(0)
    mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    sd_a, sd_b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    a = with_moments(rng, 200, mu_a, np.diag(sd_a ** 2))
    b = with_moments(rng, 300, mu_b, np.diag(sd_b ** 2))
    expected = ((mu_a - mu_b) ** 2).sum() + ((sd_a - sd_b) ** 2).sum()
    assert metrics.fid(a, b) == pytest.approx(expected, rel=1e-10)

    cov_a, cov_b = random_psd(rng, 5), random_psd(rng, 5)   # do not commute
    a = with_moments(rng, 100, np.zeros(5), cov_a)
    b = with_moments(rng, 100, np.ones(5), cov_b)
    tr_sqrt = np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real.clip(0)).sum()
    expected = 5 + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt
    assert metrics.fid(a, b) == pytest.approx(expected, rel=1e-9)


@given(seed=st.integers(0, 2 ** 32 - 1), na=st.integers(2, 30), nb=st.integers(2, 30),
       d=st.integers(1, 10))
def test_fid_is_symmetric_and_non_negative(seed, na, nb, d):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((na, d)), rng.standard_normal((nb, d)) * 2 + 0.5
    assert metrics.fid(a, b) >= 0
    assert metrics.fid(a, b) == pytest.approx(metrics.fid(b, a), rel=1e-9, abs=1e-9)


def test_fid_of_rank_deficient_sets_is_finite_and_right():
    """4 samples in 20-D, and a feature that never varies: singular covariances."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 20)), rng.standard_normal((6, 20))
    a[:, 3] = b[:, 3] = 7.0
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    tr_sqrt = np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real.clip(0)).sum()
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                - 2 * tr_sqrt)
    assert np.isfinite(metrics.fid(a, b))
    assert metrics.fid(a, b) == pytest.approx(expected, rel=1e-7)


def test_fid_takes_tensors_and_rejects_bad_shapes():
    a = np.random.default_rng(2).standard_normal((10, 3))
    assert metrics.fid(minigan.tensor(a), a + 1) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"fid: features_a of shape \(10, 3\) and features_b "
                                         r"of shape \(10, 2\)"):
        metrics.fid(a, a[:, :2])
    with pytest.raises(ValueError, match=r"fid: features_b must be 2-D \(N, D\) with N ≥ 2"):
        metrics.fid(a, a[:1])


# ---- the matrix square root ----
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(1, 12), data=st.data())
def test_sqrtm_psd_squared_gives_back_the_matrix(seed, d, data):
    rank = data.draw(st.integers(0, d))
    m = random_psd(np.random.default_rng(seed), d, rank)
    s = metrics.sqrtm_psd(m)
    np.testing.assert_allclose(s @ s, m, atol=1e-9 * max(1, np.abs(m).max()))
    np.testing.assert_array_equal(s, s.T)
    assert np.linalg.eigvalsh(s).min() > -1e-7


def test_sqrtm_psd_rejects_a_non_square_matrix():
    with pytest.raises(ValueError, match=r"sqrtm_psd: expected a square matrix, got shape"):
        metrics.sqrtm_psd(np.ones((2, 3)))


# ---- the classifier pipeline, on a synthetic dataset ----
def synthetic(rng, n):
    """uint8 (n, 28, 28) noise with one bright 7×7 square whose place is the label (0-9)."""
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        top, left = 3 + 11 * (label // 5), 1 + 5 * (label % 5)
        images[i, top:top + 7, left:left + 7] = 230
    return images, labels


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic-fashion")
    rng = np.random.default_rng(0)
    for split, n in (("train", 320), ("t10k", 200)):
        images, labels = synthetic(rng, n)
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    return folder


def run_example(name, argv):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


@pytest.fixture(scope="module")
def classifier_path(dataset_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier") / "classifier.npz"
    run_example("train_classifier", [
        "--dataset", "fashion-mnist", "--data-dir", str(dataset_dir), "--epochs", "3",
        "--batch-size", "32", "--width", "4", "--hidden", "16", "--lr", "0.01",
        "--out", str(path), "--device", "cpu"])
    return path


def test_a_tiny_classifier_run_learns(classifier_path, dataset_dir):
    model = load_classifier(classifier_path)
    assert not model.training and model.config["width"] == 4
    assert model.meta["dataset"] == "fashion-mnist" and model.meta["epochs"] == 3
    assert model.meta["test_accuracy"] > 0.5          # chance is 0.1
    images, labels = synthetic(np.random.default_rng(5), 100)
    hist = metrics.label_histogram(model, images)
    assert hist.sum() == 100 and (hist > 0).sum() >= 5


def test_classifier_fid_on_its_own_features(classifier_path):
    model = load_classifier(classifier_path)
    rng = np.random.default_rng(6)
    (a, _), (b, _) = synthetic(rng, 60), synthetic(rng, 60)
    as_floats = minigan.tensor(a[:, None] / 127.5 - 1, dtype=minigan.float32)   # the GAN range
    assert metrics.classifier_fid(model, a, a, batch_size=25) == pytest.approx(0, abs=1e-6)
    assert metrics.classifier_fid(model, as_floats, b) == pytest.approx(
        metrics.classifier_fid(model, a, b), rel=1e-5)
    noise = rng.uniform(-1, 1, (60, 1, 28, 28)).astype(np.float32)
    assert metrics.classifier_fid(model, a, noise) > 10 * metrics.classifier_fid(model, a, b)
    assert metrics.classifier_features(model, a).shape == (60, 16)


def test_evaluate_scores_a_generator(classifier_path, dataset_dir, tmp_path):
    minigan.manual_seed(0)
    generator = DCGANGenerator(28, nz=8, ngf=4)
    generator_path = tmp_path / "generator.npz"
    # as minigan.training writes it: both models, the generator under "G"
    minigan.save({"models": {"G": generator.state_dict(), "D": {"x": minigan.zeros(1)}},
                  "step": 10, "fixed_z": minigan.randn(4, 8)}, generator_path)
    out = tmp_path / "results.json"
    results = run_example("evaluate", [
        "--generator", str(generator_path), "--classifier", str(classifier_path),
        "--data-dir", str(dataset_dir), "--num-samples", "150", "--batch-size", "64",
        "--json", str(out), "--device", "cpu"])
    assert sum(results["histogram"]) == 150 and len(results["histogram"]) == 10
    assert results["fid"] > results["fid_floor"] > 0      # an untrained generator vs the floor
    assert out.exists()


def test_load_classifier_rejects_other_checkpoints(tmp_path):
    path = tmp_path / "not_a_classifier.npz"
    minigan.save({"architecture": "dcgan28", "state_dict": {}}, path)
    with pytest.raises(ValueError, match=r"load_classifier: .* is not a classifier checkpoint"):
        load_classifier(path)
    model = Classifier(width=2, hidden=3)
    assert model.features(minigan.randn(2, 1, 28, 28)).shape == (2, 3)


def test_classifier_fid_at_a_checkpoint_is_reproducible_and_leaves_the_run_alone(
        classifier_path):
    """training.ClassifierFID: the same score twice, and no trace on the generator's state,
    its mode or minigan's random stream (train_dcgan --eval-classifier)."""
    real, _ = synthetic(np.random.default_rng(7), 50)
    minigan.manual_seed(0)
    generator = DCGANGenerator(28, nz=8, ngf=4)
    weights = {k: v.numpy().copy() for k, v in generator.state_dict().items()}
    rng = minigan.get_rng_state()
    score = ClassifierFID(str(classifier_path), real[:, None], nz=8, n=40, device="cpu",
                          batch_size=16)
    first, second = score(generator), score(generator)
    assert np.isfinite(first) and first == second
    assert generator.training and minigan.get_rng_state() == rng
    for k, v in generator.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), weights[k])
