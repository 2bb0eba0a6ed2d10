// tanh and sigmoid, and the gradients the backward passes take from their outputs.
// NumPy reference: minigan/ops/activation.py (Tanh, TanhGrad, Sigmoid, SigmoidGrad).
//   tanh:     y = tanh(x)                        gx = gy * (1 - y * y)
//   sigmoid:  y = sigmoid_of(x)                  gx = gy * y * (1 - y)
//             (kernels/common.cuh: e = exp(-|x|), y = x >= 0 ? 1 / (1 + e) : e / (1 + e))
// (relu is leaky_relu with slope 0: kernels/leaky_relu.cu.)
// One thread per element, grid-stride loop; n counts elements.

template <typename T>
__global__ void tanh_forward(const T* __restrict__ x, T* __restrict__ y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = tanh(x[i]);
    }
}

template <typename T>
__global__ void tanh_backward_x(const T* __restrict__ y, const T* __restrict__ gy,
                                T* __restrict__ gx, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        gx[i] = gy[i] * (T(1) - y[i] * y[i]);
    }
}

template <typename T>
__global__ void sigmoid_forward(const T* __restrict__ x, T* __restrict__ y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = sigmoid_of(x[i]);
    }
}

template <typename T>
__global__ void sigmoid_backward_x(const T* __restrict__ y, const T* __restrict__ gy,
                                   T* __restrict__ gx, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        gx[i] = gy[i] * y[i] * (T(1) - y[i]);
    }
}
