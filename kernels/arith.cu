// Elementwise arithmetic of tensors of one shape, and a fill.
// NumPy reference: minigan/ops/arith.py (Add); add_into, fill and copy: minigan/arrays.py;
// add_bias: Linear in minigan/ops/affine.py, and broadcast in minigan/cuda/arrays.py.
//   add_forward:  y = a + b
//   add_into:     y = y + x    (in place: the engine's accumulation of a .grad)
//   fill:         y = value    (ones_like for a loss's first gradient, zeros, full)
//   copy:         y = x        (Tensor.copy_: a captured step's inputs into its buffers)
//   add_bias:     y[i, j] = y[i, j] + b[j]   (in place, y (rows, C): Linear's bias)
// One thread per element, grid-stride loop; n counts elements.

template <typename T>
__global__ void add_forward(const T* __restrict__ a, const T* __restrict__ b,
                            T* __restrict__ y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = a[i] + b[i];
    }
}

template <typename T>
__global__ void add_into(T* __restrict__ y, const T* __restrict__ x, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = y[i] + x[i];
    }
}

template <typename T>
__global__ void fill(T* __restrict__ y, T value, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = value;
    }
}

template <typename T>
__global__ void copy(T* __restrict__ y, const T* __restrict__ x, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = x[i];
    }
}

template <typename T>
__global__ void add_bias(T* __restrict__ y, const T* __restrict__ b, long long C, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = y[i] + b[i % C];
    }
}
