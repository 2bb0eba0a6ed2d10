// Sums over leading axes, over a divisor (a mean: divisor = the count; a sum: 1).
// NumPy reference: minigan/ops/reduce.py (Sum).
//   sum_all:       y = sum(x) / divisor                        (every axis)
//   sum_rows:      y[j] = sum over i of x[i, j] / divisor     (x viewed as (R, C): Linear's gb)
//   sum_channels:  y[c] = sum over n, s of x[n, c, s] / divisor   (x viewed as (N, C, S): a
//                  conv's gb), in two stages as batch_norm.cu's statistics: a block per
//                  (channel, part) of ceil(m / P) consecutive values, then a thread per channel
//                  adding its P parts in order (P from minigan/cuda.py, channel_parts)
// A block's threads each sum the elements t, t + 256, ... in order, then a fixed shared-memory
// tree adds the 256 partial sums, so two runs give the same bits (no atomics).

#define SUM_THREADS 256

// the block's 256 values added in a fixed tree; every thread gets the total (batch_norm.cu has
// its own: each .cu file is a module of its own on the GPU)
template <typename T>
__device__ T tree_sum(T value, T* shared) {
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int stride = SUM_THREADS / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    const T total = shared[0];
    __syncthreads();                        // shared[] is reused by the next sum
    return total;
}

// one block
template <typename T>
__global__ void sum_all(const T* __restrict__ x, T* __restrict__ y, T divisor,
                        long long n) {
    __shared__ T shared[SUM_THREADS];
    T acc = T(0);
    for (long long i = threadIdx.x; i < n; i += SUM_THREADS) acc += x[i];
    const T total = tree_sum(acc, shared);
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

// stage 1 of sum_channels, one block per (channel c, part p): partial[c * P + p]
template <typename T>
__global__ void sum_channels_partial(const T* __restrict__ x, T* __restrict__ partial,
                                     long long N, long long C, long long S, long long P) {
    __shared__ T shared[SUM_THREADS];
    const long long m = N * S, chunk = (m + P - 1) / P;
    for (long long b = blockIdx.x; b < C * P; b += gridDim.x) {
        const long long c = b / P, k0 = (b % P) * chunk;
        const long long k1 = k0 + chunk < m ? k0 + chunk : m;   // the last parts may be short
        T acc = T(0);
        for (long long k = k0 + threadIdx.x; k < k1; k += SUM_THREADS)
            acc += x[((k / S) * C + c) * S + k % S];
        const T total = tree_sum(acc, shared);
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
