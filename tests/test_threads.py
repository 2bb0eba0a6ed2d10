"""minigan.threads: the CPU work split across cores covers everything once, and gives the
same bits on every run (and, for elementwise work, the same bits as one thread)."""
import ctypes
import threading

import numpy as np
import pytest

import minigan
from minigan import optim, threads


@pytest.fixture
def two_threads():
    """At least two threads, restored after the test."""
    before = threads.get_num_threads()
    threads.set_num_threads(max(2, before))
    yield
    threads.set_num_threads(before)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64])
def test_split_covers_each_index_once(two_threads, n):
    seen, names = np.zeros(n, int), set()

    def work(a, b):
        seen[a:b] += 1
        names.add(threading.current_thread().name)
    threads.split(work, n, threads.SMALL)   # large enough to be split
    assert (seen == 1).all()
    assert len(names) == min(n, threads.get_num_threads()) or n < 2


def test_one_thread_runs_on_the_caller():
    before = threads.get_num_threads()
    threads.set_num_threads(1)
    try:
        names = set()
        threads.split(lambda a, b: names.add(threading.current_thread().name), 8, 1 << 30)
        assert names == {threading.current_thread().name}
    finally:
        threads.set_num_threads(before)


@pytest.mark.parametrize("n", [0, -1, 1.5, "2"])
def test_set_num_threads_rejects(n):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
        minigan.set_num_threads(n)


@pytest.mark.parametrize("shape", [(300, 200, 500), (3, 4, 5), (1, 700, 900)])
def test_matmul_is_numpys_product_and_repeats_bit_for_bit(two_threads, shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k), dtype=np.float32).T   # a transposed view, as conv's gW
    got = threads.matmul(a, b)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    assert got.flags.c_contiguous and got.dtype == np.float32
    np.testing.assert_array_equal(got, threads.matmul(a, b))


def test_matmul_takes_stacks_as_numpy_does():
    a, b = np.ones((2, 3, 4)), np.ones((2, 4, 5))
    np.testing.assert_array_equal(threads.matmul(a, b), a @ b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_in_pieces_is_adam_bit_for_bit(two_threads, dtype):
    rng = np.random.default_rng(1)
    shapes = [(3 * optim.PIECE + 17,), (5, 7), (1,), (2 * optim.PIECE,)]
    hyper = (3, 1e-3, 0.5, 0.999, 1e-8, 0.01)

    def arrays():
        return [[rng.standard_normal(s).astype(dtype) for _ in range(4)] for s in shapes]
    pieces = arrays()
    whole = [[a.copy() for a in arrays] for arrays in pieces]
    for p, g, m, v in pieces:
        v[...] = np.abs(v)
    for (p, g, m, v), w in zip(pieces, whole):
        w[3][...] = v
    optim.adam_update_in_pieces([(p, g, m, v, *hyper) for p, g, m, v in pieces])
    for p, g, m, v in whole:
        optim.adam_update(p, g, m, v, *hyper)
    for got, want in zip(pieces, whole):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_conv_step_repeats_bit_for_bit(two_threads):
    """A conv net's forward and backward, split across threads, twice: the same bits."""
    def run():
        minigan.manual_seed(0)
        net = minigan.nn.Sequential(minigan.nn.Conv2d(3, 64, 4, 2, 1), minigan.nn.BatchNorm2d(64),
                                    minigan.nn.LeakyReLU(0.2),
                                    minigan.nn.ConvTranspose2d(64, 3, 4, 2, 1))
        x = minigan.randn(32, 3, 32, 32)   # big enough that products and copies are split
        (net(x) * net(x)).mean().backward()
        return [net(x).numpy()] + [p.grad.numpy() for p in net.parameters()]
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_pieces_of_views_land_in_place(two_threads):
    """Elementwise ops and BatchNorm, split into pieces, on transposed and sliced inputs
    large enough to be split: the same values as the plain NumPy formulas."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 400)).T                    # F-ordered, 120000 elements
    gy = rng.standard_normal((400, 300))
    xt = minigan.tensor(x, requires_grad=True)
    y = minigan.functional.leaky_relu(xt, 0.2)
    y.backward(minigan.tensor(gy))
    np.testing.assert_array_equal(y.numpy(), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_array_equal(xt.grad.numpy(), np.where(x > 0, 1.0, 0.2) * gy)

    x4 = rng.standard_normal((8, 64, 20, 20))[:, ::2]          # (8, 32, 20, 20), strided
    y = minigan.functional.batch_norm(minigan.tensor(x4), None, None, training=True)
    mu = x4.mean(axis=(0, 2, 3), keepdims=True)
    var = x4.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.numpy(), (x4 - mu) / np.sqrt(var + 1e-5), rtol=1e-10,
                               atol=1e-10)


def _openblas_threads():
    """OpenBLAS's own thread count, read through its get_num_threads (None if not found)."""
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()},
                       key=lambda p: "numpy" not in p)
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                return getattr(lib, name)()
    return None


def test_openblas_runs_one_thread_per_call_once_minigan_splits_work(two_threads):
    if threads._blas() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this process can reach")
    threads.split(lambda a, b: None, 4)
    assert _openblas_threads() == 1
