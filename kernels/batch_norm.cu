// Batch normalization over every axis but the channels.
// NumPy reference: minigan/ops/normalization.py (BatchNorm, BatchNormGrad).
// x is viewed as (N, C, S) with S the product of the spatial sizes (1 for (N, C) input);
// m = N * S values per channel.
//   mean = sum(x) / m,  var = sum((x - mean)^2) / m          (two passes: no cancellation)
//   inv_std = 1 / sqrt(var + eps),  x_hat = (x - mean) * inv_std,  y = gamma * x_hat + beta
//   ggamma = sum(gy * x_hat),  gbeta = sum(gy)
//   gx = gamma * inv_std * (gy - (x_hat * ggamma + gbeta) / m)
// The per-channel sums run one block per channel with a fixed shared-memory tree: the result
// does not depend on timing (no atomics).

#define BN_THREADS 256

template <typename T>
__device__ T block_sum(T value, T* shared) {
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int stride = BN_THREADS / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    T total = shared[0];
    __syncthreads();                        // shared[] is reused by the next sum
    return total;
}

// one block per channel: mean, biased var, inv_std; and the running statistics if given
template <typename T>
__global__ void batch_norm_forward_stats(const T* __restrict__ x, T* __restrict__ mean,
                                         T* __restrict__ var, T* __restrict__ inv_std,
                                         T* __restrict__ running_mean,
                                         T* __restrict__ running_var, T momentum, T eps,
                                         long long N, long long C, long long S) {
    __shared__ T shared[BN_THREADS];
    const long long c = blockIdx.x, m = N * S;
    T acc = T(0);
    for (long long k = threadIdx.x; k < m; k += blockDim.x)
        acc += x[((k / S) * C + c) * S + k % S];
    const T mu = block_sum(acc, shared) / T(m);
    acc = T(0);
    for (long long k = threadIdx.x; k < m; k += blockDim.x) {
        T d = x[((k / S) * C + c) * S + k % S] - mu;
        acc += d * d;
    }
    const T v = block_sum(acc, shared) / T(m);
    if (threadIdx.x == 0) {
        mean[c] = mu;
        var[c] = v;
        inv_std[c] = T(1) / sqrt(v + eps);
        if (running_mean) running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mu;
        if (running_var)                    // the running variance is unbiased: m / (m - 1)
            running_var[c] = (T(1) - momentum) * running_var[c] + momentum * v * T(m) / T(m - 1);
    }
}

// elementwise: x_hat (kept for backward; may be null) and y = gamma x_hat + beta
// (eval mode calls it with the running mean and 1 / sqrt(running_var + eps))
template <typename T>
__global__ void batch_norm_forward_normalize(const T* __restrict__ x, const T* __restrict__ mean,
                                             const T* __restrict__ inv_std,
                                             const T* __restrict__ gamma,
                                             const T* __restrict__ beta, T* __restrict__ x_hat,
                                             T* __restrict__ y, long long C, long long S,
                                             long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long c = (i / S) % C;
        const T xh = (x[i] - mean[c]) * inv_std[c];
        if (x_hat) x_hat[i] = xh;
        y[i] = gamma[c] * xh + beta[c];
    }
}

// one block per channel: ggamma = sum(gy x_hat), gbeta = sum(gy)
template <typename T>
__global__ void batch_norm_backward_reduce(const T* __restrict__ gy, const T* __restrict__ x_hat,
                                           T* __restrict__ ggamma, T* __restrict__ gbeta,
                                           long long N, long long C, long long S) {
    __shared__ T shared[BN_THREADS];
    const long long c = blockIdx.x, m = N * S;
    T acc_gamma = T(0), acc_beta = T(0);
    for (long long k = threadIdx.x; k < m; k += blockDim.x) {
        const long long i = ((k / S) * C + c) * S + k % S;
        acc_gamma += gy[i] * x_hat[i];
        acc_beta += gy[i];
    }
    const T sum_gamma = block_sum(acc_gamma, shared);
    const T sum_beta = block_sum(acc_beta, shared);
    if (threadIdx.x == 0) {
        ggamma[c] = sum_gamma;
        gbeta[c] = sum_beta;
    }
}

// elementwise: gx = gamma inv_std (gy - (x_hat ggamma + gbeta) / m)
template <typename T>
__global__ void batch_norm_backward_x(const T* __restrict__ gy, const T* __restrict__ x_hat,
                                      const T* __restrict__ gamma, const T* __restrict__ inv_std,
                                      const T* __restrict__ ggamma, const T* __restrict__ gbeta,
                                      T* __restrict__ gx, long long C, long long S, long long n) {
    const T m = T(n / C);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long c = (i / S) % C;
        gx[i] = gamma[c] * inv_std[c] * (gy[i] - (x_hat[i] * ggamma[c] + gbeta[c]) / m);
    }
}
