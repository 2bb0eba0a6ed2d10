// Sums over leading axes, over a divisor (a mean: divisor = the count; a sum: 1).
// NumPy reference: minigan/ops/reduce.py (Sum).
//   sum_all:       y = sum(x) / divisor                        (every axis)
//   sum_rows:      y[j] = sum over i of x[i, j] / divisor     (x viewed as (R, C): Linear's gb)
//   sum_last:      y[i] = sum over j of x[i, j] / divisor     (x viewed as (R, C): a sum per
//                  sample, LayerNorm's means), a block per row
//   sum_channels:  y[c] = sum over n, s of x[n, c, s] / divisor   (x viewed as (N, C, S): a
//                  conv's gb), in two stages as batch_norm.cu's statistics: a block per
//                  (channel, part) of ceil(m / P) consecutive values, then a thread per channel
//                  adding its P parts in order (P from minigan.cuda.channel_parts)
// A block's threads each sum the elements t, t + THREADS, ... in order, then a fixed
// shared-memory tree adds the THREADS partial sums (kernels/common.cuh, block_sum), so two runs
// give the same bits (no atomics).

// one block
template <typename T>
__global__ void sum_all(const T* __restrict__ x, T* __restrict__ y, T divisor,
                        long long n) {
    __shared__ T shared[THREADS];
    T acc = T(0);
    for (long long i = threadIdx.x; i < n; i += THREADS) acc += x[i];
    const T total = block_sum(acc, shared);
    if (threadIdx.x == 0) y[0] = total / divisor;
}

// one thread per column j adds its R values in row order: fixed order, and neighbouring
// threads read neighbouring values
template <typename T>
__global__ void sum_rows(const T* __restrict__ x, T* __restrict__ y, T divisor, long long R,
                         long long C) {
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < C;
         j += (long long)blockDim.x * gridDim.x) {
        T acc = T(0);
        for (long long i = 0; i < R; ++i) acc += x[i * C + j];
        y[j] = acc / divisor;
    }
}

// one block per row i adds its C values as sum_all does; the blocks stride over the rows
template <typename T>
__global__ void sum_last(const T* __restrict__ x, T* __restrict__ y, T divisor, long long R,
                         long long C) {
    __shared__ T shared[THREADS];
    for (long long i = blockIdx.x; i < R; i += gridDim.x) {
        const T* row = x + i * C;
        T acc = T(0);
        for (long long j = threadIdx.x; j < C; j += THREADS) acc += row[j];
        const T total = block_sum(acc, shared);
        if (threadIdx.x == 0) y[i] = total / divisor;
    }
}

// stage 1 of sum_channels, one block per (channel c, part p): partial[c * P + p]
template <typename T>
__global__ void sum_channels_partial(const T* __restrict__ x, T* __restrict__ partial,
                                     long long N, long long C, long long S, long long P) {
    __shared__ T shared[THREADS];
    const long long m = N * S;
    for (long long b = blockIdx.x; b < C * P; b += gridDim.x) {
        const long long c = b / P;
        long long k0, k1;
        part_bounds(b % P, P, m, &k0, &k1);
        T acc = T(0);
        for (long long k = k0 + threadIdx.x; k < k1; k += THREADS)
            acc += x[((k / S) * C + c) * S + k % S];
        const T total = block_sum(acc, shared);
        if (threadIdx.x == 0) partial[b] = total;
    }
}

// stage 2, one thread per channel: its P parts in order
template <typename T>
__global__ void sum_channels(const T* __restrict__ partial, T* __restrict__ y, T divisor,
                             long long C, long long P) {
    for (long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x; c < C;
         c += (long long)blockDim.x * gridDim.x) {
        T acc = T(0);
        for (long long p = 0; p < P; ++p) acc += partial[c * P + p];
        y[c] = acc / divisor;
    }
}
