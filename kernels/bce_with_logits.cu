// Binary cross-entropy with logits, fused. NumPy reference: minigan/ops/loss.py (BCEWithLogits).
//   sp = softplus(-x) = max(-x, 0) + log1p(exp(-|x|))        (no overflow for |x| = 1e4)
//   loss = w * ((1 - t) x + (1 + (p - 1) t) sp)
//   gx   = gy * scale * w * ((1 + (p - 1) t) sigmoid(x) - p t)
//   gt   = gy * scale * w * ((p - 1) sp - x)
// w and p are per-element arrays (broadcast by the caller) or null for 1.
// Reductions are deterministic: each block writes one partial sum (a fixed tree in shared
// memory, kernels/common.cuh's block_sum), then sum_partials adds the partials in a fixed
// order. No atomics.

template <typename T>
__device__ T softplus_neg(T x) {            // softplus(-x)
    return (x < T(0) ? -x : T(0)) + log1p(exp(-fabs(x)));
}

// loss: per element when partials is null ('none'); else each block's sum into partials[block]
template <typename T>
__global__ void bce_with_logits_forward(const T* __restrict__ x, const T* __restrict__ t,
                                        const T* __restrict__ w, const T* __restrict__ p,
                                        T* __restrict__ loss, T* __restrict__ partials,
                                        long long n) {
    __shared__ T shared[THREADS];
    T acc = T(0);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        T pw = p ? p[i] : T(1);
        T l = (T(1) - t[i]) * x[i] + (T(1) + (pw - T(1)) * t[i]) * softplus_neg(x[i]);
        if (w) l *= w[i];
        if (partials) acc += l; else loss[i] = l;
    }
    if (!partials) return;                  // the same for every thread: all reach the sum
    const T total = block_sum(acc, shared);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// out[0] = scale * sum(partials[0:count]), one block, fixed order
template <typename T>
__global__ void sum_partials(const T* __restrict__ partials, T* __restrict__ out, T scale,
                             long long count) {
    __shared__ T shared[THREADS];
    T acc = T(0);
    for (long long i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    const T total = block_sum(acc, shared);
    if (threadIdx.x == 0) out[0] = scale * total;
}

// gy has gy_size elements: 1 for 'mean' and 'sum' (read on the device: no host sync), n for 'none'
template <typename T>
__global__ void bce_with_logits_backward(const T* __restrict__ x, const T* __restrict__ t,
                                         const T* __restrict__ w, const T* __restrict__ p,
                                         const T* __restrict__ gy, long long gy_size, T scale,
                                         T* __restrict__ gx, T* __restrict__ gt, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        T g = scale * gy[gy_size == 1 ? 0 : i];
        if (w) g *= w[i];
        T pw = p ? p[i] : T(1);
        if (gx) gx[i] = g * ((T(1) + (pw - T(1)) * t[i]) * sigmoid_of(x[i]) - pw * t[i]);
        if (gt) gt[i] = g * ((pw - T(1)) * softplus_neg(x[i]) - x[i]);
    }
}
