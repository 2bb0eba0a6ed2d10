"""CuPy's own tests, run against the CuPy double: the double must pass what CuPy passes.

Each test names the CuPy test it mirrors (CuPy v14.2.0, tests/cupy_tests/...), and keeps its
steps and assertions; what differs is said in the test. The double's rules themselves, with
the CuPy source lines they follow, are in tests/cuda_emu/cupy_double.py and cupy_streams.py.
Here: the memory pool, kernel arguments and arrays; CuPy's stream and graph tests, and the
capture rules, are in test_cupy_rules_streams.py.
"""
import numpy as np
import pytest

from cupy_rules_common import assert_array_equal, cuda, cupy, double  # noqa: F401 (autouse)
from minigan import cuda as minigan_cuda


# ---- the memory pool: cupy/cuda/memory.pyx (no CuPy test pins these; its code does) ----
def test_a_freed_block_goes_to_the_next_allocation_on_its_stream():
    """memory.pyx:1352-1398: freed, a block is handed out at once, but only to an allocation
    made while the stream it was made on is current."""
    s = cuda.Stream(non_blocking=True)
    with s:
        a = cupy.empty(1000, np.float32)
        address = a.data.ptr
        del a
    b = cupy.empty(1000, np.float32)          # the default stream: another arena
    assert b.data.ptr != address
    with s:
        c = cupy.empty(1000, np.float32)
    assert c.data.ptr == address


# ---- kernel arguments: tests/cupy_tests/core_tests/test_function.py, TestFunction ----
def kernel(name, dtype):
    """One of our kernels, called as CuPy calls a RawKernel: no check by minigan.cuda.launch."""
    return minigan_cuda.loading.runtime.function("arith", name, np.dtype(dtype))


@pytest.mark.parametrize("b", [2.0, np.float64(2)])
def test_python_and_numpy_scalars(b):
    """test_python_scalar, test_numpy_scalar: a Python float or a numpy.float64 for a double."""
    x = cupy.empty(24, np.float64)
    kernel("fill", np.float64)((1,), (32,), (x, b, 24))
    assert_array_equal(x, np.full(24, 2.0))


def test_static_array():
    """test_static_array: a host array goes by value only if it has one element."""
    x = cupy.empty(24, np.float64)
    with pytest.raises(TypeError):
        kernel("fill", np.float64)((1,), (32,), (x, np.arange(5.0), 24))
    kernel("fill", np.float64)((1,), (32,), (x, np.array([3.0]), 24))
    assert_array_equal(x, np.full(24, 3.0))


def test_cupy_checks_nothing_against_the_parameters():
    """A Python float for a float parameter goes as a double (_scalar.pyx:302-317), and the
    kernel reads the four bytes it declares: the low half of 1.0, zero. What
    minigan.cuda.launch refuses (a kernel gets only dense arrays of its own dtype), CuPy passes."""
    x = cupy.empty(8, np.float32)
    kernel("fill", np.float32)((1,), (32,), (x, 1.0, 8))
    assert_array_equal(x, np.zeros(8, np.float32))
    with pytest.raises(TypeError, match="Unsupported type"):
        kernel("fill", np.float32)((1,), (32,), (x, "1", 8))


# ---- arrays: tests/cupy_tests/core_tests ----
def test_flags():
    """test_flags.py TestFlags: c_contiguous, f_contiguous, owndata; other keys a KeyError."""
    a = cupy.empty((2, 3))
    assert a.flags.c_contiguous and a.flags["C_CONTIGUOUS"] and not a.T.flags.c_contiguous
    assert a.T.flags.f_contiguous and a.T.flags.fnc and a.flags.forc
    with pytest.raises(KeyError, match="is not defined for cupy.ndarray.flags"):
        a.flags["WRITEABLE"]


@pytest.mark.parametrize("shape, expected", [((0,), False), ((1,), True), ((2,), ValueError)])
def test_bool(shape, expected):
    """test_ndarray_unary_op.py TestArrayBoolOp: empty (a warning, False), one element, two."""
    a = cupy.ones(shape)
    if expected is ValueError:
        with pytest.raises(ValueError):
            bool(a)
    elif shape == (0,):
        with pytest.warns(DeprecationWarning):
            assert bool(a) is expected
    else:
        assert bool(a) is expected


def test_binary_mixed_op():
    """test_ndarray_ufunc.py TestArrayUfunc test_binary_mixed_op: a host array among the
    operands of a ufunc is a TypeError, in either order and as out."""
    a, b = cupy.ones(3), np.ones(3)
    for call in (lambda: np.add(a, b), lambda: np.add(b, a), lambda: np.add(a, a, out=b)):
        with pytest.raises(TypeError):
            call()


def test_fill_with_nonscalar_ndarray():
    """test_ndarray_copy_and_view.py TestArrayFill test_fill_with_nonscalar_ndarray."""
    a = cupy.zeros(3)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        a.fill(np.ones(1))
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        a[:] = np.ones(3)   # _routines_indexing.pyx:1088-1093: the same fill


def test_adv_setitem_takes_a_host_value():
    """test_ndarray_adv_indexing.py TestArrayAdvancedIndexingVectorValue: with an index array,
    a host value is copied to the device."""
    a = cupy.zeros(4)
    a[cupy.asarray(np.array([0, 2]))] = np.array([1.0, 2.0])
    assert_array_equal(a, [1.0, 0.0, 2.0, 0.0])


def test_matmul_copies_what_cublas_cannot_read():
    """_routines_linalg.pyx:460-472 and 903-904 (no CuPy test counts the copies)."""
    from cuda_emu.our_rules import counting
    a = cupy.ones((4, 6))
    with counting() as calls:
        a @ a.T                    # 2-D: a transpose is a flag
        a[:, ::2] @ a[:3, :]       # neither C- nor F-ordered: copied
        a[None] @ a.T[None]        # N-D: anything not C-ordered is copied
    assert calls.names["gemm"] == {"matmul 2-D": 2, "matmul 3-D": 1}
    assert calls.names["generic"] == {"matmul's copy": 2}


# ---- a rule from CuPy's source that no CuPy test pins (found by review) ----
def test_new_arrays_are_c_ordered_and_astype_keeps_the_order_of_the_axes():
    """_kernel.pyx:1374-1375 with core.pyx:289-299: a kernel's outputs are C-ordered; astype
    with order 'K' keeps the order of the input's axes (core.pyx:760-770)."""
    a = cupy.ones((3, 4, 5))
    assert cupy.exp(a.T).flags.c_contiguous
    permuted = a.transpose(1, 0, 2).astype(np.float32)
    assert permuted.strides == (20, 80, 4) and permuted.base is None
