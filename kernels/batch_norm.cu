// Batch normalization over every axis but the channels.
// NumPy reference: minigan/ops/normalization.py (BatchNorm, BatchNormGrad).
// x is viewed as (N, C, S) with S the product of the spatial sizes (1 for (N, C) input);
// m = N * S values per channel.
//   mean = sum(x) / m,  var = sum((x - mean)^2) / m          (two passes: no cancellation)
//   inv_std = 1 / sqrt(var + eps),  x_hat = (x - mean) * inv_std,  y = gamma * x_hat + beta
//   ggamma = sum(gy * x_hat),  gbeta = sum(gy)
//   gx = gamma * inv_std * (gy - (x_hat * ggamma + gbeta) / m)
// The per-channel sums run in two stages, so that they fill the card when the channels alone
// would not (64 channels on a 132-SM H200): stage 1 splits each channel's m values into P
// parts of ceil(m / P) consecutive values (in (n, s) order) and gives each part a block, with a
// fixed shared-memory tree (kernels/common.cuh: part_bounds, block_sum); stage 2 adds each
// channel's P partial results in order, one thread per channel. P depends only on the shape
// (minigan.cuda.channel_parts), so the result does not depend on timing or on the card: no
// atomics, the same bits on every rerun.
// With P = 1 the statistics are the two-pass formula above exactly; with P > 1 the variance is
// Chan's combination of the parts' (n_p, mean_p, M2_p), the same sum of squares regrouped:
//   sum((x - mean)^2) = sum over p of [M2_p + n_p (mean_p - mean)^2]

// Stage 1 of the statistics, one block per (channel c, part p): the part's count n_p, sum and
// M2_p = sum((x - mean_p)^2) about its own mean mean_p = sum / n_p (two passes over the part)
template <typename T>
__global__ void batch_norm_forward_partial_stats(const T* __restrict__ x, T* __restrict__ partial,
                                                 long long N, long long C, long long S,
                                                 long long P) {
    __shared__ T shared[THREADS];
    const long long m = N * S;
    for (long long b = blockIdx.x; b < C * P; b += gridDim.x) {
        const long long c = b / P;
        long long k0, k1;
        part_bounds(b % P, P, m, &k0, &k1);
        T acc = T(0);
        for (long long k = k0 + threadIdx.x; k < k1; k += blockDim.x)
            acc += x[((k / S) * C + c) * S + k % S];
        const T sum = block_sum(acc, shared);
        const T mean_p = k1 > k0 ? sum / T(k1 - k0) : T(0);
        acc = T(0);
        for (long long k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
            const T d = x[((k / S) * C + c) * S + k % S] - mean_p;
            acc += d * d;
        }
        const T m2 = block_sum(acc, shared);
        if (threadIdx.x == 0) {
            partial[2 * b] = sum;
            partial[2 * b + 1] = m2;
        }
    }
}

// Stage 2, one thread per channel, adding its P parts in order (Chan's combination):
//   mean = sum of the parts' sums / m,  var = sum over p of (M2_p + n_p (mean_p - mean)^2) / m
// then inv_std, and the running statistics if given
template <typename T>
__global__ void batch_norm_forward_stats(const T* __restrict__ partial, T* __restrict__ mean,
                                         T* __restrict__ var, T* __restrict__ inv_std,
                                         T* __restrict__ running_mean,
                                         T* __restrict__ running_var, T momentum, T eps,
                                         long long m, long long C, long long P) {
    for (long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x; c < C;
         c += (long long)blockDim.x * gridDim.x) {
        const T* part = partial + 2 * c * P;
        T sum = T(0);
        for (long long p = 0; p < P; ++p) sum += part[2 * p];
        const T mu = sum / T(m);
        T m2 = T(0);
        for (long long p = 0; p < P; ++p) {
            long long k0, k1;
            part_bounds(p, P, m, &k0, &k1);                  // as stage 1 split them
            const long long n_p = k1 - k0;
            const T d = n_p > 0 ? part[2 * p] / T(n_p) - mu : T(0);
            m2 += part[2 * p + 1] + T(n_p) * d * d;
        }
        const T v = m2 / T(m);
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

// Stage 1, one block per (channel, part): the part's sums of gy x_hat and of gy
template <typename T>
__global__ void batch_norm_backward_partial_sums(const T* __restrict__ gy,
                                                 const T* __restrict__ x_hat,
                                                 T* __restrict__ partial, long long N,
                                                 long long C, long long S, long long P) {
    __shared__ T shared[THREADS];
    const long long m = N * S;
    for (long long b = blockIdx.x; b < C * P; b += gridDim.x) {
        const long long c = b / P;
        long long k0, k1;
        part_bounds(b % P, P, m, &k0, &k1);
        T acc_gamma = T(0), acc_beta = T(0);
        for (long long k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
            const long long i = ((k / S) * C + c) * S + k % S;
            acc_gamma += gy[i] * x_hat[i];
            acc_beta += gy[i];
        }
        const T sum_gamma = block_sum(acc_gamma, shared);
        const T sum_beta = block_sum(acc_beta, shared);
        if (threadIdx.x == 0) {
            partial[2 * b] = sum_gamma;
            partial[2 * b + 1] = sum_beta;
        }
    }
}

// Stage 2, one thread per channel: ggamma = sum(gy x_hat), gbeta = sum(gy), its P parts in order
template <typename T>
__global__ void batch_norm_backward_reduce(const T* __restrict__ partial, T* __restrict__ ggamma,
                                           T* __restrict__ gbeta, long long C, long long P) {
    for (long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x; c < C;
         c += (long long)blockDim.x * gridDim.x) {
        T sum_gamma = T(0), sum_beta = T(0);
        for (long long p = 0; p < P; ++p) {
            sum_gamma += partial[2 * (c * P + p)];
            sum_beta += partial[2 * (c * P + p) + 1];
        }
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
