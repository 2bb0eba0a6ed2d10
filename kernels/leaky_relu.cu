// LeakyReLU: the NumPy reference is minigan/ops/activation.py (LeakyReLU, LeakyReLUGrad).
//   y  = x > 0 ? x : slope * x
//   gx = gy * (x > 0 ? 1 : slope)
// One thread per element, grid-stride loop; n counts elements.

template <typename T>
__global__ void leaky_relu_forward(const T* __restrict__ x, T* __restrict__ y, T slope,
                                   long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = x[i] > T(0) ? x[i] : slope * x[i];
    }
}

template <typename T>
__global__ void leaky_relu_backward_x(const T* __restrict__ x, const T* __restrict__ gy,
                                      T* __restrict__ gx, T slope, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        gx[i] = gy[i] * (x[i] > T(0) ? T(1) : slope);
    }
}
