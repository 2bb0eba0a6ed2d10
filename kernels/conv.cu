// Pixel movers for conv2d and conv_transpose2d; the products are our GEMM (kernels/gemm.cu).
// NumPy reference: im2col, col2im, to_batch_last, from_batch_last in minigan/ops/movers.py,
// in the same layouts (the batch axis last, as there):
//   x    (N, C, H, W)
//   cols (C, kH, kW, Ho, Wo, N)
//   cols[c, u, v, i, j, n] = x[n, c, s*i + d*u - p, s*j + d*v - p]   (0 outside x)
// col2im is the adjoint: img[n, c, h, w] = sum over taps (u, v) of cols[c, u, v, i, j, n] with
// s*i + d*u - p = h. Each thread owns one output pixel and gathers its taps, so the sum has a
// fixed order and no atomics: two runs give the same bits.
//
// Every mover turns a batch-first array into a batch-last one or back, so one side is read or
// written along N and the other along the pixels. Each block moves a TILE x TILE tile through
// shared memory: it reads with neighbouring threads on the input's contiguous axis, and writes
// with neighbouring threads on the output's, so both sides coalesce. A block has THREADS
// threads: TILE columns by TILE_ROWS rows, each thread doing TILE / TILE_ROWS rows of the
// tile. The blocks stride over the tiles, so every thread of a block runs the same iterations
// (the __syncthreads() inside are reached by all).

// TILE (32) has one definition, minigan.cuda.loading.TILE, passed as -DTILE=<it>
// (kernels/common.cuh stops a compile without it)
#define TILE_ROWS (THREADS / TILE)   // 8 rows of 32 threads for THREADS = 256

// cols[c, u, v] viewed as (P, N) with P = Ho * Wo; a tile is 32 output pixels by 32 images
template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ cols, long long N, long long C,
                       long long H, long long W, int kh, int kw, int sy, int sx, int py, int px,
                       int dy, int dx, long long Ho, long long Wo) {
    __shared__ T tile[TILE][TILE + 1];   // [n - n0][p - p0]; + 1: no bank conflicts by column
    const long long P = Ho * Wo;
    const long long tiles_p = (P + TILE - 1) / TILE, tiles_n = (N + TILE - 1) / TILE;
    const long long tiles = C * kh * kw * tiles_p * tiles_n;
    const int tx = threadIdx.x % TILE, ty = threadIdx.x / TILE;
    for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
        long long r = t;
        const long long n0 = (r % tiles_n) * TILE; r /= tiles_n;
        const long long p0 = (r % tiles_p) * TILE; r /= tiles_p;
        const int v = r % kw;       r /= kw;
        const int u = r % kh;
        const long long c = r / kh;
        // read x: neighbouring threads take neighbouring output pixels, so neighbouring w
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            const long long p = p0 + tx, n = n0 + k;
            T value = T(0);
            if (p < P && n < N) {
                const long long h = (p / Wo) * sy + (long long)u * dy - py;
                const long long w = (p % Wo) * sx + (long long)v * dx - px;
                if (h >= 0 && h < H && w >= 0 && w < W) value = x[((n * C + c) * H + h) * W + w];
            }
            tile[k][tx] = value;
        }
        __syncthreads();
        // write cols: neighbouring threads take neighbouring images (N is last)
        const long long row0 = ((c * kh + u) * kw + v) * P;
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            const long long p = p0 + k, n = n0 + tx;
            if (p < P && n < N) cols[(row0 + p) * N + n] = tile[tx][k];
        }
        __syncthreads();                 // the tile is refilled by the next iteration
    }
}

// img (N, C, H, W) from cols (C, kH, kW, Hi, Wi, N); bias (C,) is added when not null.
// img[:, c] viewed as (N, Q) with Q = H * W; a tile is 32 images by 32 pixels
template <typename T>
__global__ void col2im(const T* __restrict__ cols, const T* __restrict__ bias,
                       T* __restrict__ img, long long N, long long C, long long H, long long W,
                       int kh, int kw, int sy, int sx, int py, int px, int dy, int dx,
                       long long Hi, long long Wi) {
    __shared__ T tile[TILE][TILE + 1];   // [q - q0][n - n0]
    const long long Q = H * W;
    const long long tiles_q = (Q + TILE - 1) / TILE, tiles_n = (N + TILE - 1) / TILE;
    const long long tiles = C * tiles_q * tiles_n;
    const int tx = threadIdx.x % TILE, ty = threadIdx.x / TILE;
    for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
        long long r = t;
        const long long n0 = (r % tiles_n) * TILE; r /= tiles_n;
        const long long q0 = (r % tiles_q) * TILE;
        const long long c = r / tiles_q;
        // gather the taps of pixel q for image n: neighbouring threads read neighbouring images
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            const long long q = q0 + k, n = n0 + tx;
            if (q >= Q || n >= N) continue;
            const long long h = q / W, w = q % W;
            T acc = T(0);
            for (int u = 0; u < kh; ++u) {
                const long long hs = h + py - (long long)u * dy;     // = s * i
                if (hs < 0 || hs % sy) continue;
                const long long i = hs / sy;
                if (i >= Hi) continue;
                for (int v = 0; v < kw; ++v) {
                    const long long ws = w + px - (long long)v * dx;  // = s * j
                    if (ws < 0 || ws % sx) continue;
                    const long long j = ws / sx;
                    if (j >= Wi) continue;
                    acc += cols[((((c * kh + u) * kw + v) * Hi + i) * Wi + j) * N + n];
                }
            }
            tile[k][tx] = bias ? acc + bias[c] : acc;
        }
        __syncthreads();
        // write img: neighbouring threads take neighbouring pixels
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            const long long n = n0 + k, q = q0 + tx;
            if (q < Q && n < N) img[(n * C + c) * Q + q] = tile[tx][k];
        }
        __syncthreads();
    }
}

// out (B, A) from in (A, B): out[b, a] = in[a, b] + bias[a / S] (bias may be null).
//   to_batch_last:   (N, C*H*W) -> (C*H*W, N)
//   from_batch_last: (C*H*W, N) -> (N, C*H*W), adding bias[c] with S = H*W
template <typename T>
__global__ void transpose2d(const T* __restrict__ in, const T* __restrict__ bias,
                            T* __restrict__ out, long long A, long long B, long long S) {
    __shared__ T tile[TILE][TILE + 1];   // [a - a0][b - b0]
    const long long tiles_a = (A + TILE - 1) / TILE, tiles_b = (B + TILE - 1) / TILE;
    const int tx = threadIdx.x % TILE, ty = threadIdx.x / TILE;
    for (long long t = blockIdx.x; t < tiles_a * tiles_b; t += gridDim.x) {
        const long long a0 = (t / tiles_b) * TILE, b0 = (t % tiles_b) * TILE;
        // read in: neighbouring threads take neighbouring b
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            const long long a = a0 + k, b = b0 + tx;
            if (a < A && b < B) tile[k][tx] = in[a * B + b];
        }
        __syncthreads();
        // write out: neighbouring threads take neighbouring a
        for (int k = ty; k < TILE; k += TILE_ROWS) {
            const long long b = b0 + k, a = a0 + tx;
            if (a < A && b < B) out[b * A + a] = bias ? tile[tx][k] + bias[a / S] : tile[tx][k];
        }
        __syncthreads();
    }
}
