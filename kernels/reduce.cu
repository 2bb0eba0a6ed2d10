// Sums over leading axes, over a divisor (a mean: divisor = the count; a sum: 1).
// NumPy reference: minigan/ops/reduce.py (Sum).
//   sum_all:   y = sum(x) / divisor                        (every axis)
//   sum_rows:  y[j] = sum over i of x[i, j] / divisor     (x viewed as (R, C): Linear's gb)
// One block: each thread sums the elements i = t, t + 256, ... in order, then a fixed
// shared-memory tree adds the 256 partial sums, so two runs give the same bits (no atomics).
// For the small sums of a training step's hot path (a loss, the mean of D's outputs).

#define SUM_THREADS 256

template <typename T>
__global__ void sum_all(const T* __restrict__ x, T* __restrict__ y, T divisor,
                        long long n) {
    __shared__ T shared[SUM_THREADS];
    T acc = T(0);
    for (long long i = threadIdx.x; i < n; i += SUM_THREADS) acc += x[i];
    shared[threadIdx.x] = acc;
    __syncthreads();
    for (int stride = SUM_THREADS / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[0] = shared[0] / divisor;
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
