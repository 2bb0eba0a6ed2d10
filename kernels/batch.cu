// A training batch gathered from the images held on the device, scaled to [-1, 1].
// NumPy reference: gather_batch in minigan/arrays.py (BatchStream.next's batch on the CPU),
// with to_tanh_range in minigan/data/pixels.py:
//   out[b] = images[order[start + b]] / 127.5 - 1      (uint8 pixels in, T out)
// One thread per output value; consecutive threads read consecutive pixels of one image.

template <typename T>
__global__ void gather_batch(const unsigned char* __restrict__ images,
                             const long long* __restrict__ order, T* __restrict__ out,
                             long long start, long long per_image, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long b = i / per_image, k = i % per_image;
        out[i] = T(images[order[start + b] * per_image + k]) / T(127.5) - T(1);
    }
}
