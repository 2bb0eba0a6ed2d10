"""kernels/gemm.cu, our GEMM, against NumPy's ``a @ b`` in float64.

The fixture ``gpu`` (tests/conftest.py) runs it on the emulated GPU, and on a real one where
there is one. The shapes straddle the 64 x 64 tiles and the K step of 16; the output starts as
NaN, so an element the kernel forgets to write fails. Last, its bits: each output is one
ascending fused multiply-add chain, so neither the number of blocks nor the tile it falls in
may change them.
"""
import numpy as np
import pytest

import minigan
from minigan import backend, cuda

rng = np.random.default_rng(0)


def gemm(a, b, batch, m, n, k, trans_a, trans_b, stride_a, stride_b, device, blocks=None):
    """c (batch, m, n) = op(A_z) @ op(B_z) by our kernel, from host arrays a and b as stored;
    ``blocks`` defaults to what a caller passes, one per tile up to 65535."""
    if blocks is None:
        blocks = min(cuda.MAX_BLOCKS, max(1, batch * -(-m // 64) * -(-n // 64)))
    a_dev, b_dev = (minigan.tensor(x, device=device).data for x in (a, b))
    c = cuda.empty((batch, m, n), a.dtype)
    cuda.launch("gemm", "gemm", a.dtype, blocks, a_dev, b_dev, c, np.int64(batch), np.int64(m),
                np.int64(n), np.int64(k), np.int32(trans_a), np.int32(trans_b),
                np.int64(stride_a), np.int64(stride_b))
    return backend.to_device(c, "cpu")


def operands(batch, m, n, k, trans_a, trans_b, stride_a, stride_b, dtype):
    """Random a and b as the kernel reads them (flat, with the batch's strides), and
    op(A_z), op(B_z) for each z in float64: the NumPy reference's operands."""
    a = rng.standard_normal((batch - 1) * stride_a + m * k).astype(dtype)
    b = rng.standard_normal((batch - 1) * stride_b + k * n).astype(dtype)
    A = [a[z * stride_a:z * stride_a + m * k].astype(np.float64) for z in range(batch)]
    B = [b[z * stride_b:z * stride_b + k * n].astype(np.float64) for z in range(batch)]
    A = np.stack([x.reshape(k, m).T if trans_a else x.reshape(m, k) for x in A])   # (batch, m, k)
    B = np.stack([x.reshape(n, k).T if trans_b else x.reshape(k, n) for x in B])   # (batch, k, n)
    return a, b, A, B


def assert_matches_numpy(c, A, B):
    """c == A @ B within the rounding of k fused multiply-adds: |error| <= k u (|A| @ |B|),
    plus rtol (1e-12 for float64, 1e-5 for float32)."""
    assert not np.isnan(c).any(), "the kernel left an output element unwritten"
    k = A.shape[-1]
    u = np.finfo(c.dtype).eps
    atol = k * u * (np.abs(A) @ np.abs(B)).max(initial=0)
    rtol = 1e-12 if c.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(c, np.matmul(A, B), rtol=rtol, atol=atol)


# every m, n in (1, 63, 64, 65, 130) and every k in (0, 1, 15, 16, 17, 40) appears
SHAPES = [(1, 1, 1), (63, 130, 17), (64, 64, 16), (65, 63, 15), (130, 65, 40), (1, 64, 0),
          (65, 1, 40)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a, trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("m, n, k", SHAPES)
def test_gemm_matches_numpy(gpu, m, n, k, trans_a, trans_b, dtype):
    a, b, A, B = operands(1, m, n, k, trans_a, trans_b, m * k, k * n, dtype)
    c = gemm(a, b, 1, m, n, k, trans_a, trans_b, m * k, k * n, gpu)
    assert c.dtype == dtype
    assert_matches_numpy(c, A, B)


# a batch of 3: each side has its own matrices (with a gap of 7 between them, so the kernel
# must use the stride, not m*k) or one matrix broadcast (stride 0)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("broadcast, trans_a, trans_b", [
    (None, 0, 0), (None, 1, 1), ("a", 1, 0), ("b", 0, 1)])
def test_gemm_batches(gpu, broadcast, trans_a, trans_b, dtype):
    m, n, k = 65, 70, 17
    stride_a = 0 if broadcast == "a" else m * k + 7
    stride_b = 0 if broadcast == "b" else k * n + 7
    a, b, A, B = operands(3, m, n, k, trans_a, trans_b, stride_a, stride_b, dtype)
    c = gemm(a, b, 3, m, n, k, trans_a, trans_b, stride_a, stride_b, gpu)
    assert_matches_numpy(c, A, B)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_bits_do_not_depend_on_blocks_or_tiles(gpu, dtype):
    batch, m, n, k, trans_a, trans_b = 2, 130, 65, 40, 1, 0
    a, b, A, B = operands(batch, m, n, k, trans_a, trans_b, m * k, k * n, dtype)
    run = [gemm(a, b, batch, m, n, k, trans_a, trans_b, m * k, k * n, gpu, blocks=blocks)
           for blocks in (None, None, 1, 5)]   # 12 tiles: one block each, one block, 5 blocks
    assert_matches_numpy(run[0], A, B)
    for other in run[1:]:
        assert other.tobytes() == run[0].tobytes()
    # an output's bits are those of the 1 x 1 product of its row and column alone: the same
    # chain of fused multiply-adds, whichever tile and thread it falls in
    for z, i, j in [(0, 0, 0), (0, 63, 64), (1, 64, 63), (1, 129, 64), (1, 77, 18)]:
        row, col = A[z, i].astype(dtype), np.ascontiguousarray(B[z, :, j]).astype(dtype)
        alone = gemm(row, col, 1, 1, 1, k, 0, 0, k, k, gpu)
        assert alone.tobytes() == run[0][z, i, j].tobytes(), (z, i, j)


@pytest.mark.parametrize("dtype, bits", [(np.float32, 13), (np.float64, 27)])
def test_gemm_fuses_each_term_in_ascending_order(gpu, dtype, bits):
    # every row of op(A) is (0, ..., 0, -(1 + 2h), 1 + h) and every column of op(B)
    # (0, ..., 0, 1, 1 + h), with h = 2^-bits and the last two terms at p = 15, 16 (across the
    # K step). In order, fma(1 + h, 1 + h, -(1 + 2h)) = h*h exactly; rounding the product first
    # (h*h is a quarter of an ulp of 1), or taking the terms in descending order, gives 0.
    m, n, k = 65, 3, 17
    h = dtype(2.0 ** -bits)
    row, col = np.zeros(k, dtype), np.zeros(k, dtype)
    row[15:], col[15:] = (-(1 + 2 * h), 1 + h), (1, 1 + h)
    a, b = np.tile(row, (m, 1)), np.tile(col, (n, 1))   # (m, k), and (n, k): trans_b = 1
    c = gemm(a, b, 1, m, n, k, 0, 1, m * k, k * n, gpu)
    np.testing.assert_array_equal(c, np.full((1, m, n), h * h))


def test_a_product_of_shapes_that_do_not_fit_is_one_clear_error(gpu):
    a, b = (minigan.zeros(*shape, device=gpu).data for shape in ((3, 4), (5, 2)))
    with pytest.raises(ValueError, match=r"product: shapes \(3, 4\) and \(5, 2\) cannot be"):
        cuda.product(a, b)
