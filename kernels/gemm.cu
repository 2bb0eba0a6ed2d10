// GEMM, our replacement for cuBLAS (CuPy refuses cuBLAS calls while a CUDA graph is captured).
// NumPy reference: a @ b (minigan/cuda/gemm.py, product). For each z in [0, batch):
//   C_z = op(A_z) @ op(B_z),   C_z[i, j] = sum over p of op(A_z)[i, p] * op(B_z)[p, j]
// with C_z = c + z*m*n (m x n, row-major), A_z = a + z*stride_a, B_z = b + z*stride_b (a stride
// of 0 broadcasts one matrix over the batch) and
//   trans_a == 0: A_z is m x k, op(A_z)[i, p] = A_z[i*k + p]
//   trans_a == 1: A_z is k x m, op(A_z)[i, p] = A_z[p*m + i]
//   trans_b == 0: B_z is k x n, op(B_z)[p, j] = B_z[p*n + j]
//   trans_b == 1: B_z is n x k, op(B_z)[p, j] = B_z[j*k + p]
// k may be 0: then C = 0.
//
// Launch: a 1-D grid of any size (the caller passes min(65535, tiles)) of THREADS (256). The
// blocks stride over the tiles (batch x tiles of m x tiles of n), so every thread of a block
// runs the same iterations and reaches every __syncthreads(). A block computes a BM x BN tile
// of C, BK values of k at a time: it stages op(A)[i0:i0+BM, p0:p0+BK] and the matching slab of
// op(B) in shared memory, k-major, and each thread keeps a TM x TN patch of C in registers.
// Thread (tx, ty) owns rows ty + 16*r and columns tx + 16*c: neighbouring threads read
// neighbouring shared words and write neighbouring columns of C.
//
// NOTE: each output is one accumulator, acc = fma(a, b, acc) from T(0) over p = 0, 1, ..., k-1
// in order, and the last K step stops at k (no padded terms): its bits depend only on its row
// of op(A) and column of op(B), not on the tile sizes, the number of blocks, the card or the
// emulator's compile flags.

constexpr int BM = 64;         // rows of C per block
constexpr int BN = 64;         // columns of C per block
constexpr int BK = 16;         // the K step
constexpr int TM = 4;          // rows of C per thread
constexpr int TN = 4;          // columns of C per thread
constexpr int TX = BN / TN;    // 16 threads across a tile's columns
constexpr int TY = BM / TM;    // 16 down its rows
constexpr int PAD = 2;         // tile rows of 66 words: a warp storing down a k column hits
                               // 32 banks (float)

// tile[p][i] = X(i0 + i, p0 + p) for i < W, p < BK (0 outside the rows x k matrix X), where X
// is stored i-major, X(i, p) = x[i*k + p], or p-major, X(i, p) = x[p*rows + i]. Neighbouring
// threads read neighbouring addresses: along p in the first case, along i in the second.
template <int W, typename T>
__device__ __forceinline__ void load_tile(T (*tile)[W + PAD], const T* __restrict__ x,
                                          bool i_major, long long rows, long long k,
                                          long long i0, long long p0) {
    for (int e = threadIdx.x; e < BK * W; e += THREADS) {
        const int p = i_major ? e % BK : e / W, i = i_major ? e / BK : e % W;
        const long long ig = i0 + i, pg = p0 + p;
        T value = T(0);
        if (ig < rows && pg < k) value = i_major ? x[ig * k + pg] : x[pg * rows + ig];
        tile[p][i] = value;
    }
}

// one step p of the K loop: every thread's TM x TN patch takes its product term
template <typename T>
__device__ __forceinline__ void accumulate(T (&acc)[TM][TN], const T* as, const T* bs,
                                           int tx, int ty) {
    T av[TM], bv[TN];
    for (int r = 0; r < TM; ++r) av[r] = as[ty + TY * r];
    for (int c = 0; c < TN; ++c) bv[c] = bs[tx + TX * c];
    for (int r = 0; r < TM; ++r)
        for (int c = 0; c < TN; ++c) acc[r][c] = fma(av[r], bv[c], acc[r][c]);
}

template <typename T>
__global__ void gemm(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ c,
                     long long batch, long long m, long long n, long long k,
                     int trans_a, int trans_b, long long stride_a, long long stride_b) {
    static_assert(TX * TY == THREADS, "one thread per TM x TN patch of a BM x BN tile");
    __shared__ T As[BK][BM + PAD];   // As[p][i] = op(A_z)[i0 + i, p0 + p]
    __shared__ T Bs[BK][BN + PAD];   // Bs[p][j] = op(B_z)[p0 + p, j0 + j]
    const long long tiles_m = (m + BM - 1) / BM, tiles_n = (n + BN - 1) / BN;
    const long long tiles = batch * tiles_m * tiles_n;
    const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
        long long rest = t;
        const long long j0 = (rest % tiles_n) * BN; rest /= tiles_n;
        const long long i0 = (rest % tiles_m) * BM;
        const long long z = rest / tiles_m;
        const T* az = a + z * stride_a;
        const T* bz = b + z * stride_b;
        T acc[TM][TN];
        for (int r = 0; r < TM; ++r)
            for (int c = 0; c < TN; ++c) acc[r][c] = T(0);
        // NOTE: a thread none of whose outputs is in C (a tile's edge past m or n) only loads:
        // no time saved on a GPU, whose warp waits for the others, but much in the emulator
        const bool computes = i0 + ty < m && j0 + tx < n;
        for (long long p0 = 0; p0 < k; p0 += BK) {
            // op(A)(i, p) is i-major unless A is transposed; op(B)(p, j) as (j, p) is
            // j-major only when B is transposed
            load_tile<BM>(As, az, trans_a == 0, m, k, i0, p0);
            load_tile<BN>(Bs, bz, trans_b != 0, n, k, j0, p0);
            __syncthreads();
            if (computes && p0 + BK <= k) {
#pragma unroll
                for (int p = 0; p < BK; ++p) accumulate(acc, As[p], Bs[p], tx, ty);
            } else if (computes) {           // the last step: up to k, no padded terms
                for (int p = 0; p < k - p0; ++p) accumulate(acc, As[p], Bs[p], tx, ty);
            }
            __syncthreads();                 // the tiles are refilled by the next step
        }
        T* cz = c + z * m * n;
        for (int r = 0; r < TM; ++r) {
            const long long i = i0 + ty + TY * r;
            for (int c = 0; c < TN; ++c) {
                const long long j = j0 + tx + TX * c;
                if (i < m && j < n) cz[i * n + j] = acc[r][c];
            }
        }
    }
}
