// A CPU emulator for our CUDA kernels, so their logic is tested on machines without a GPU.
//
// Each block runs in turn; inside a block every CUDA thread is a std::thread, and
// __syncthreads() is a std::barrier across them. __shared__ arrays become function-local
// statics, shared by the threads of the running block (blocks never overlap). This checks
// indexing and arithmetic, not GPU timing, memory coalescing or races between blocks.
// Kernels that never call __syncthreads run their threads one after another (much faster).
#pragma once
#include <barrier>
#include <cmath>
#include <cstddef>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using std::exp;
using std::fabs;
using std::log1p;
using std::sqrt;
using std::tanh;

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emu_barrier = nullptr;

inline void __syncthreads() { emu_barrier->arrive_and_wait(); }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

template <typename... A, std::size_t... I>
void emu_call_with(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*reinterpret_cast<std::remove_reference_t<A>*>(args[I])...);
}

// args follows cuLaunchKernel: args[i] points at the value of the i-th parameter
template <typename... A>
void emu_launch(void (*kernel)(A...), dim3 grid, dim3 block, void** args) {
    gridDim = grid;
    blockDim = block;
    const unsigned threads = block.x * block.y * block.z;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                std::barrier<> barrier(threads);
                emu_barrier = &barrier;
                std::vector<std::thread> pool;
                for (unsigned t = 0; t < threads; ++t)
                    pool.emplace_back([&, t] {
                        blockIdx = dim3(bx, by, bz);
                        threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
                        emu_call_with(kernel, args, std::index_sequence_for<A...>{});
                    });
                for (auto& th : pool) th.join();
            }
}

// for kernels without __syncthreads: the threads of a block run one after another
template <typename... A>
void emu_launch_sequential(void (*kernel)(A...), dim3 grid, dim3 block, void** args) {
    gridDim = grid;
    blockDim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx)
                for (unsigned t = 0; t < block.x * block.y * block.z; ++t) {
                    blockIdx = dim3(bx, by, bz);
                    threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
                    emu_call_with(kernel, args, std::index_sequence_for<A...>{});
                }
}

#define EMU_EXPORT_SEQUENTIAL(symbol, ...)                                                 \
    extern "C" void symbol(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, \
                           unsigned bz, void** args) {                                     \
        emu_launch_sequential(__VA_ARGS__, dim3(gx, gy, gz), dim3(bx, by, bz), args);      \
    }

#define EMU_EXPORT(symbol, ...)                                                            \
    extern "C" void symbol(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, \
                           unsigned bz, void** args) {                                     \
        emu_launch(__VA_ARGS__, dim3(gx, gy, gz), dim3(bx, by, bz), args);                 \
    }
