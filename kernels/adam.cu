// Adam, one fused pass over a parameter. NumPy reference: adam_update in minigan/optim.py.
//   g = g + weight_decay * p
//   m = m + (1 - beta1) (g - m)                      (PyTorch's lerp form of beta1 m + (1-beta1) g)
//   v = beta2 v + (1 - beta2) g^2
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t), and 1 - beta1, 1 - beta2
// computed on the host in double, then rounded to T, as NumPy rounds them (T(1) - beta2 in
// float32 would be 0.00099998713 for beta2 = 0.999, not float32(0.001)).

template <typename T>
__global__ void adam_update(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                            T* __restrict__ v, T step_size, T one_minus_beta1, T beta2,
                            T one_minus_beta2, T eps, T bc2_sqrt, T weight_decay, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const T grad = g[i] + weight_decay * p[i];
        const T mi = m[i] + one_minus_beta1 * (grad - m[i]);
        const T vi = beta2 * v[i] + one_minus_beta2 * (grad * grad);
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / (sqrt(vi) / bc2_sqrt + eps));
    }
}
