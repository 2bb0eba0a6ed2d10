// A CPU emulator for our CUDA kernels, so their logic is tested on machines without a GPU.
//
// Each block runs in turn. Inside a block every CUDA thread is a fiber (a stack of its own)
// on one OS thread, and __syncthreads() hands control back to the scheduler, which runs the
// next fiber up to its barrier: a round over all threads is one barrier phase, as on the GPU.
// __shared__ arrays become function-local statics, shared by the threads of the running
// block (blocks never overlap). This checks indexing, arithmetic and barrier placement, not
// GPU timing, memory coalescing or races between blocks.
// Kernels that never call __syncthreads run their threads one after another (faster still).
#pragma once
#include <ucontext.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

using std::exp;
using std::fabs;
using std::fma;
using std::log1p;
using std::sqrt;
using std::tanh;

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

// ---- fibers: one stack per CUDA thread of the running block ----
// On x86-64 a switch saves the six registers a function call must keep and swaps stack
// pointers (a few nanoseconds); elsewhere (or with -DEMU_UCONTEXT) ucontext does it, with a
// system call per switch.
constexpr std::size_t EMU_STACK = 1 << 16;   // 64 KiB, kept from launch to launch

struct EmuFiber {
    std::unique_ptr<char[]> stack{new char[EMU_STACK]};
    bool done = false;
#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
    void* sp = nullptr;
#else
    ucontext_t context;
#endif
};
inline thread_local EmuFiber* emu_running = nullptr;
inline thread_local std::function<void()> emu_body;

#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
extern "C" void emu_switch(void** save_sp, void* load_sp);
asm(R"(
    .text
    .globl emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
inline thread_local void* emu_scheduler_sp = nullptr;

inline void emu_yield() { emu_switch(&emu_running->sp, emu_scheduler_sp); }

inline void emu_fiber_main() {
    emu_body();
    emu_running->done = true;
    emu_yield();   // never resumed
}

inline void emu_start(EmuFiber& f) {
    // the stack as emu_switch leaves it: six saved registers, then the address it returns to
    auto top = reinterpret_cast<std::uintptr_t>(f.stack.get() + EMU_STACK) & ~std::uintptr_t(15);
    void** sp = reinterpret_cast<void**>(top);
    *--sp = nullptr;                                    // emu_fiber_main's own return address
    *--sp = reinterpret_cast<void*>(&emu_fiber_main);   // where emu_switch's ret goes
    for (int r = 0; r < 6; ++r) *--sp = nullptr;
    f.sp = sp;
    f.done = false;
}

inline void emu_resume(EmuFiber& f) { emu_switch(&emu_scheduler_sp, f.sp); }
#else
inline thread_local ucontext_t emu_scheduler;

inline void emu_yield() { swapcontext(&emu_running->context, &emu_scheduler); }

inline void emu_fiber_main() {
    emu_body();
    emu_running->done = true;   // then uc_link returns to the scheduler
}

inline void emu_start(EmuFiber& f) {
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = EMU_STACK;
    f.context.uc_link = &emu_scheduler;
    makecontext(&f.context, emu_fiber_main, 0);
    f.done = false;
}

inline void emu_resume(EmuFiber& f) { swapcontext(&emu_scheduler, &f.context); }
#endif

// NOTE: a kernel exported EMU_EXPORT_SEQUENTIAL has no fibers to switch between: a barrier
// there is a mistake of cuda_emu.build's, stopped here rather than run on a stale fiber
inline void __syncthreads() {
    if (emu_running == nullptr) {
        std::fputs("cuda_emu: __syncthreads() in a kernel run without fibers\n", stderr);
        std::abort();
    }
    emu_yield();
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

template <typename... A, std::size_t... I>
void emu_call_with(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*reinterpret_cast<std::remove_reference_t<A>*>(args[I])...);
}

inline dim3 emu_thread_index(unsigned t, dim3 block) {
    return dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
}

// args follows cuLaunchKernel: args[i] points at the value of the i-th parameter
template <typename... A>
void emu_launch(void (*kernel)(A...), dim3 grid, dim3 block, void** args) {
    gridDim = grid;
    blockDim = block;
    static thread_local std::vector<EmuFiber> fibers;
    fibers.resize(block.x * block.y * block.z);
    emu_body = [&] { emu_call_with(kernel, args, std::index_sequence_for<A...>{}); };
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                blockIdx = dim3(bx, by, bz);
                for (auto& f : fibers) emu_start(f);
                // one round per barrier phase: each thread runs to its next __syncthreads
                for (bool running = true; running;) {
                    running = false;
                    for (unsigned t = 0; t < fibers.size(); ++t) {
                        if (fibers[t].done) continue;
                        threadIdx = emu_thread_index(t, block);
                        emu_running = &fibers[t];
                        emu_resume(fibers[t]);
                        running = running || !fibers[t].done;
                    }
                }
            }
    emu_running = nullptr;
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
                    threadIdx = emu_thread_index(t, block);
                    emu_call_with(kernel, args, std::index_sequence_for<A...>{});
                }
}

// How float arithmetic treats subnormals during one launch: kept (IEEE, as g++ computes), or
// flushed to zero on input and output, as CuPy compiles every kernel (-ftz=true): the x86
// MXCSR flags FTZ and DAZ, set for the launch and restored after it.
// NOTE: on the CPU they flush a double's subnormals too, which -ftz=true leaves alone; our float
// kernels meet doubles below 2.2e-308 nowhere.
struct EmuFlushToZero {
#if defined(__x86_64__)
    unsigned saved;
    explicit EmuFlushToZero(bool on) : saved(_mm_getcsr()) {
        if (on) _mm_setcsr(saved | 0x8040);   // FTZ (bit 15) and DAZ (bit 6)
    }
    ~EmuFlushToZero() { _mm_setcsr(saved); }
#else
    explicit EmuFlushToZero(bool) {}   // cuda_emu.build refuses ROUNDING "nvrtc" elsewhere
#endif
};

#define EMU_EXPORT_WITH(launcher, symbol, ftz, ...)                                        \
    extern "C" void symbol(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, \
                           unsigned bz, void** args) {                                     \
        EmuFlushToZero mode(ftz);                                                          \
        launcher(__VA_ARGS__, dim3(gx, gy, gz), dim3(bx, by, bz), args);                   \
    }
#define EMU_EXPORT(symbol, ftz, ...) EMU_EXPORT_WITH(emu_launch, symbol, ftz, __VA_ARGS__)
#define EMU_EXPORT_SEQUENTIAL(symbol, ftz, ...) \
    EMU_EXPORT_WITH(emu_launch_sequential, symbol, ftz, __VA_ARGS__)
