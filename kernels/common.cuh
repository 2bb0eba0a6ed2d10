// What the kernel files share. The loader (minigan/cuda/loading.py, source) puts this file in
// front of every kernels/*.cu it hands a compiler: NVRTC through CuPy, nvcc in .ci/run, and
// g++ for the tests' emulator (tests/cuda_emu). Each .cu file is a module of its own on the
// GPU, so each gets its own copy; written once here.
//
// THREADS, the threads of every block, has one definition: minigan.cuda.loading.THREADS,
// which every launch uses and every compile receives as -DTHREADS=<it>.

#ifndef THREADS
#error "THREADS: compile with -DTHREADS=<threads per block>, as minigan.cuda.loading.options says"
#endif
#ifndef TILE   // the side of conv.cu's transpose tiles: minigan.cuda.loading.TILE
#error "TILE: compile with -DTILE=<tile side>, as minigan.cuda.loading.options says"
#endif

// The block's THREADS values added in a fixed tree in shared memory (shared holds THREADS
// values); every thread gets the total. The tree is the same on every run, so the bits are
// too: no atomics. Every thread of the block must call it: it waits at __syncthreads().
template <typename T>
__device__ T block_sum(T value, T* shared) {
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int stride = THREADS / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    const T total = shared[0];
    __syncthreads();                        // shared[] is reused by the next sum
    return total;
}

// The values [k0, k1) of part p when m values are split into P parts of ceil(m / P)
// consecutive values: the last parts may be short, or empty. Per-channel sums run in two
// stages over these parts (P from minigan.cuda.channel_parts): stage 1 a block per part,
// stage 2 the parts of a channel in order.
__device__ inline void part_bounds(long long p, long long P, long long m, long long* k0,
                                   long long* k1) {
    const long long chunk = (m + P - 1) / P;
    *k0 = p * chunk < m ? p * chunk : m;
    *k1 = *k0 + chunk < m ? *k0 + chunk : m;
}

// sigma(x) = 1 / (1 + e^-x), the same formula as minigan/ops/activation.py's sigmoid_array:
// with e = exp(-|x|), 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
// NOTE: e <= 1 never overflows, and e / (1 + e) keeps full relative accuracy where sigma is
// tiny (x << 0), which (1 + tanh(x / 2)) / 2 loses: it cancels to 0 from x = -38 or so in
// double, from x = -20 or so in float.
template <typename T>
__device__ T sigmoid_of(T x) {
    const T e = exp(-fabs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}
