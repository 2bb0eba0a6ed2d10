"""The two array namespaces, ``minigan.arrays`` (NumPy) and ``minigan.cuda.arrays`` (our
kernels): the same functions giving the same bits; the one choice between them,
``backend.arrays_for``; and Add, Sum and MatMul kept to our kernels on the GPU."""
import ast
from pathlib import Path

import numpy as np
import pytest

import minigan
from cuda_emu.our_rules import counting
from minigan import arrays as numpy_arrays
from minigan import backend
from minigan.cuda import arrays as cuda_arrays

NAMES = ("kernels_take", "asarray", "array", "arange", "numpy", "fill", "full", "copy", "add_into",
         "product", "gather_batch", "uniform", "normal", "dense", "transpose", "broadcast")
# every float that a move must keep as it is: both zeros, both infinities, NaN, a subnormal
SPECIAL = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan, 1.5, -2.25, 1e-310, 3.0, -7.0, 0.1, 2e5])


@pytest.fixture
def emulated(monkeypatch, emulator_lib):
    import cuda_emu
    cuda_emu.install(monkeypatch, emulator_lib)
    return "cuda"


def test_both_namespaces_hold_the_same_functions():
    for name in NAMES:
        assert callable(getattr(numpy_arrays, name)) and callable(getattr(cuda_arrays, name))
    assert (numpy_arrays.device, cuda_arrays.device) == ("cpu", "cuda")
    assert backend.arrays_for("cpu") is backend.arrays_for(np.zeros(2)) is numpy_arrays
    assert backend.arrays_for(np.float32(1)) is numpy_arrays


def test_the_choice_of_a_gpu(gpu):
    x = minigan.zeros(2, device=gpu)
    assert backend.arrays_for(gpu) is backend.arrays_for(x.data) is cuda_arrays
    assert backend.arrays_for("cuda:0") is cuda_arrays


def on_both(fn, *arrays):
    """fn(namespace, *arrays) with NumPy on copies of the arrays, then with the device's
    namespace on device copies: both results as host arrays."""
    cpu = fn(numpy_arrays, *(np.array(a) for a in arrays))
    gpu = fn(cuda_arrays, *(backend.to_device(a, "cuda") for a in arrays))
    return cpu, backend.to_device(gpu, "cpu")


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert a.tobytes() == b.tobytes(), (a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_function_gives_numpys_bits(gpu, dtype):
    x = SPECIAL.astype(dtype)
    y = np.arange(12, dtype=dtype) - 5.5
    same_bits(*on_both(lambda xp: xp.asarray([1.5, -0.0], dtype)))
    same_bits(*on_both(lambda xp: xp.array(x, dtype)))
    same_bits(*on_both(lambda xp: xp.arange(-1, 2, 0.5, dtype)))
    same_bits(*on_both(lambda xp, a: xp.fill(a, -0.0), y))
    same_bits(*on_both(lambda xp: xp.full((2, 3), 2.5, dtype)))
    same_bits(*on_both(lambda xp: xp.full((2, 3), 7, np.int64)))
    same_bits(*on_both(lambda xp, a, b: xp.copy(a, b), y, x))
    same_bits(*on_both(lambda xp, a, b: xp.copy(a, b), y, np.float32(4)))
    same_bits(*on_both(lambda xp, a, b: xp.add_into(a, b), y, x))
    same_bits(*on_both(lambda xp, a: xp.transpose(a, 3), x))
    same_bits(*on_both(lambda xp, a, b: xp.transpose(a, 4, b, 2), x, y[:2]))
    same_bits(*on_both(lambda xp, a: xp.dense(a[:, ::2]), x.reshape(3, 4)))
    same_bits(*on_both(lambda xp, a: xp.dense(a), x.reshape(3, 4)))
    if dtype == np.float64:   # exact: small integers; float32 products round as NumPy's may not
        same_bits(*on_both(lambda xp, a, b: xp.product(a, b.T), y.reshape(3, 4), y.reshape(3, 4)))
    for shape, to in [((), (2, 3)), ((3,), (2, 4, 3)), ((3, 1), (3, 4)), ((2, 3), (2, 3)),
                      ((2, 1, 3, 1), (2, 4, 3, 2)), ((1, 3, 1), (2, 3, 2)),
                      ((1, 2, 1, 1), (3, 2, 2, 2))]:
        a = x[:int(np.prod(shape))].reshape(shape)
        same_bits(*on_both(lambda xp, a: xp.broadcast(a, to), a))
    images = np.random.default_rng(0).integers(0, 256, (6, 1, 3, 3), dtype=np.uint8)
    order = np.array([4, 0, 5, 2, 1, 3], np.int64)
    same_bits(*on_both(lambda xp, i, o: xp.gather_batch(i, o, 2, 3), images, order))
    same_bits(*on_both(lambda xp: xp.uniform((3, 5), dtype, 2 ** 40 + 1, 2 ** 32 - 1)))
    same_bits(*on_both(lambda xp: xp.normal((7,), dtype, 5, 3)))


# ---- Add, Sum and MatMul keep to our kernels ----

ADDS = [((), (2, 3)), ((2, 2), ()), ((3, 3), (1, 3)), ((3, 1), (2, 1, 4)),
        ((2, 2, 2, 2), (1, 2, 1, 1)), ((1, 2), (1, 1, 1)), ((5,), (4, 1))]
SUMS = [((2, 3), 1, False), ((2, 3, 4), 1, True), ((2, 3, 4), (0, 2), False),
        ((3, 2, 2, 2), (1, 2, 3), False), ((2, 3, 4, 5), (1, 3), True), ((3,), (), False),
        ((), None, False), ((4, 5), 0, False), ((2, 3, 4), None, False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_broadcasting_add_is_our_kernels_with_numpys_bits(emulated, dtype):
    rng = np.random.default_rng(1)
    for sa, sb in ADDS:
        a, b = (rng.standard_normal(s).astype(dtype) for s in (sa, sb))
        a.reshape(-1)[:1] = -0.0   # -0 + -0 is -0: the spreading keeps the sign
        b.reshape(-1)[:1] = -0.0
        ga, gb = (minigan.tensor(v, device=emulated) for v in (a, b))
        with counting() as calls:
            y = ga + gb
        assert calls["generic"] == 0 and calls["kernel"] > 0, (sa, sb, calls)
        same_bits(np.asarray(a + b), y.cpu().numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sum_over_any_axes_is_our_kernels(emulated, dtype):
    rng = np.random.default_rng(2)
    for shape, dim, keepdim in SUMS:
        x = rng.standard_normal(shape).astype(dtype)
        gx = minigan.tensor(x, device=emulated)
        for reduce, ref in ((minigan.sum, np.sum), (minigan.mean, np.mean)):
            with counting() as calls:
                y = reduce(gx, dim, keepdim)
            assert calls["generic"] == 0 and calls["kernel"] > 0, (shape, dim, calls)
            axis = tuple(dim) if isinstance(dim, tuple) else dim
            expected = np.asarray(ref(x, axis=axis, keepdims=keepdim), dtype)
            got = y.cpu().numpy()
            assert got.shape == expected.shape and got.dtype == expected.dtype
            np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_an_add_of_trailing_values_is_a_copy_and_add_bias(emulated):
    """b (Q,) or (1, Q) spread over a (P, Q): y = a, then b added along each row; no spread
    copy of b. Either operand may be the small one (a + b is b + a, bit for bit)."""
    rng = np.random.default_rng(5)
    for sa, sb in [((4, 3), (3,)), ((1, 3), (2, 4, 3)), ((2, 3, 4), (3, 4))]:
        a, b = (rng.standard_normal(s).astype(np.float32) for s in (sa, sb))
        ga, gb = (minigan.tensor(v, device=emulated) for v in (a, b))
        with counting() as calls:
            y = ga + gb
        assert dict(calls.names["kernel"]) == {"copy": 1, "add_bias": 1}, (sa, sb, calls)
        assert calls["generic"] == 0
        same_bits(np.asarray(a + b), y.cpu().numpy())


def test_a_sum_over_long_trailing_rows_is_a_block_a_row(emulated):
    """A sum per sample over rows of at least THREADS values (penalties' sum(dim=1),
    LayerNorm's means): one launch of sum_last, a block a row and a fixed tree (no
    atomics), so two runs give the same bits; no transpose first."""
    x = np.random.default_rng(6).standard_normal((3, 5, 16, 20)).astype(np.float32)
    gx = minigan.tensor(x, device=emulated)
    for dim in ((1, 2, 3), (2, 3)):
        with counting() as calls:
            y = gx.mean(dim)
        assert dict(calls.names["kernel"]) == {"sum_last": 1}, (dim, calls)
        expected = x.astype(np.float64).mean(axis=dim)
        np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-5, atol=1e-6)
        assert gx.mean(dim).cpu().numpy().tobytes() == y.cpu().numpy().tobytes()


def test_a_product_with_a_transposed_operand_is_one_gemm(emulated):
    x = minigan.randn(5, 3, device=emulated)
    w = minigan.randn(4, 3, device=emulated)
    with counting() as calls:
        y = x @ w.T
    assert calls["generic"] == 0 and calls.names["kernel"]["gemm"] == 1, calls
    np.testing.assert_allclose(y.cpu().numpy(), x.cpu().numpy() @ w.cpu().numpy().T,
                               rtol=1e-6)


def test_other_dtypes_run_forward_with_cupys_arrays(gpu):
    """Our kernels have float32 and float64 instances: integer and mixed-dtype inputs take
    the op's NumPy line on CuPy's arrays, decided once in Function's dispatch."""
    i = minigan.tensor([1, 2, 3], device=gpu)
    assert (i + 2).tolist() == [3, 4, 5] and int(i.sum()) == 6
    f32, f64 = minigan.ones(2, device=gpu), minigan.ones(2, device=gpu, dtype=minigan.float64)
    assert (f32 + f64).dtype == minigan.float64 and (f32 + f64).tolist() == [2.0, 2.0]


# ---- one choice ----

def calls(tree, name):
    """The calls of a function or method ``name`` in a module's syntax tree."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and name in (getattr(node.func, "attr", None), getattr(node.func, "id", None))]


def test_no_module_but_the_dispatch_asks_which_device_it_is_on():
    """``backend.arrays_for`` makes the choice; Function's dispatch, the optimizers' steps
    and the few callers outside an op use it, and only minigan/cuda/ tests its own arrays."""
    package = Path(minigan.__file__).parent
    callers = set()
    for path in package.rglob("*.py"):
        name = path.relative_to(package).as_posix()
        tree = ast.parse(path.read_text())
        if not name.startswith("cuda/"):
            assert not calls(tree, "on_device"), name
        if calls(tree, "arrays_for") and name != "backend.py":
            callers.add(name)
    assert callers == {"autograd/function.py", "optim.py", "tensor.py", "ops/arith.py",
                       "ops/loss.py", "ops/classification.py", "data/stream.py",
                       "random.py"}, callers


def device_tests(tree):
    """The places a module tests an array's type against CuPy's (``cupy.ndarray``) or
    compares a ``.device`` with a name (``x.device != "cpu"``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "ndarray" \
                and getattr(node.value, "attr", getattr(node.value, "id", None)) == "cupy":
            found.append(node.lineno)
        if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Attribute) and side.attr == "device"
                for side in (node.left, *node.comparators)):
            found.append(node.lineno)
    return found


def test_only_backend_and_minigan_cuda_test_an_arrays_device():
    """Outside backend.py and minigan/cuda/, what is on which device is asked of
    ``backend.arrays_for``; the one comparison left prints a tensor's device (Tensor's
    __repr__), and the optimizers read their namespace's (``arrays.device``)."""
    package = Path(minigan.__file__).parent
    found = {}
    for path in package.rglob("*.py"):
        name = path.relative_to(package).as_posix()
        if name != "backend.py" and not name.startswith("cuda/"):
            lines = device_tests(ast.parse(path.read_text()))
            if lines:
                found[name] = len(lines)
    assert found == {"tensor.py": 1, "optim.py": 1}, found
    tensor = ast.parse((package / "tensor.py").read_text())
    repr_ = next(n for n in ast.walk(tensor) if getattr(n, "name", None) == "__repr__")
    assert len(device_tests(repr_)) == 1
