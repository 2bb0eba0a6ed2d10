// Adam, one fused pass over a parameter. NumPy reference: adam_update in minigan/optim.py.
//   g = g + weight_decay * p
//   m = m + (1 - beta1) (g - m)                      (PyTorch's lerp form of beta1 m + (1-beta1) g)
//   v = beta2 v + (1 - beta2) g^2
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t), and 1 - beta1, 1 - beta2,
// all computed in double, then rounded to T, as NumPy rounds them (T(1) - beta2 in float32
// would be 0.00099998713 for beta2 = 0.999, not float32(0.001)).
// NOTE: the step count t is read from the device, and adam_count moves it on there, so that a
// captured training step (a CUDA graph) replays with t counting on; the host needs no sync.

template <typename T>
__global__ void adam_update(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                            T* __restrict__ v, const long long* __restrict__ step, double lr,
                            double beta1, double beta2, T eps, T weight_decay, long long n) {
    const double t = double(step[0]);
    const T step_size = T(lr / (1.0 - pow(beta1, t)));
    const T bc2_sqrt = T(sqrt(1.0 - pow(beta2, t)));
    const T one_minus_beta1 = T(1.0 - beta1), b2 = T(beta2), one_minus_beta2 = T(1.0 - beta2);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const T grad = g[i] + weight_decay * p[i];
        const T mi = m[i] + one_minus_beta1 * (grad - m[i]);
        const T vi = b2 * v[i] + one_minus_beta2 * (grad * grad);
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / (sqrt(vi) / bc2_sqrt + eps));
    }
}

// steps[which[j]] += 1 for the k parameters that take a step: one launch for all of them
template <typename T>
__global__ void adam_count(long long* __restrict__ steps, const long long* __restrict__ which,
                           long long k) {
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < k;
         j += (long long)blockDim.x * gridDim.x) {
        steps[which[j]] += 1;
    }
}
