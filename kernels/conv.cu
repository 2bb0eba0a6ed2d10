// Pixel movers for conv2d and conv_transpose2d; the products run in cuBLAS (cupy.matmul).
// NumPy reference: im2col, col2im, to_batch_last, from_batch_last in minigan/ops/conv.py,
// in the same layouts (the batch axis last, as there):
//   x    (N, C, H, W)
//   cols (C, kH, kW, Ho, Wo, N)
//   cols[c, u, v, i, j, n] = x[n, c, s*i + d*u - p, s*j + d*v - p]   (0 outside x)
// col2im is the adjoint: img[n, c, h, w] = sum over taps (u, v) of cols[c, u, v, i, j, n] with
// s*i + d*u - p = h. Each thread owns one output pixel and gathers its taps, so the sum has a
// fixed order and no atomics: two runs give the same bits.

template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ cols, long long N, long long C,
                       long long H, long long W, int kh, int kw, int sy, int sx, int py, int px,
                       int dy, int dx, long long Ho, long long Wo, long long n_cols) {
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n_cols;
         idx += (long long)blockDim.x * gridDim.x) {
        long long r = idx;
        const long long n = r % N;  r /= N;
        const long long j = r % Wo; r /= Wo;
        const long long i = r % Ho; r /= Ho;
        const int v = r % kw;       r /= kw;
        const int u = r % kh;
        const long long c = r / kh;
        const long long h = i * sy + (long long)u * dy - py;
        const long long w = j * sx + (long long)v * dx - px;
        cols[idx] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * C + c) * H + h) * W + w] : T(0);
    }
}

// img (N, C, H, W) from cols (C, kH, kW, Hi, Wi, N); bias (C,) is added when not null
template <typename T>
__global__ void col2im(const T* __restrict__ cols, const T* __restrict__ bias,
                       T* __restrict__ img, long long N, long long C, long long H, long long W,
                       int kh, int kw, int sy, int sx, int py, int px, int dy, int dx,
                       long long Hi, long long Wi, long long n_img) {
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n_img;
         idx += (long long)blockDim.x * gridDim.x) {
        long long r = idx;
        const long long w = r % W; r /= W;
        const long long h = r % H; r /= H;
        const long long c = r % C;
        const long long n = r / C;
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
        img[idx] = bias ? acc + bias[c] : acc;
    }
}

// out (B, A) from in (A, B): out[b, a] = in[a, b] + bias[a / S] (bias may be null).
//   to_batch_last:   (N, C*H*W) -> (C*H*W, N)
//   from_batch_last: (C*H*W, N) -> (N, C*H*W), adding bias[c] with S = H*W
template <typename T>
__global__ void transpose2d(const T* __restrict__ in, const T* __restrict__ bias,
                            T* __restrict__ out, long long A, long long B, long long S) {
    const long long n = A * B;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n;
         idx += (long long)blockDim.x * gridDim.x) {
        const long long a = idx % A;
        const long long b = idx / A;
        out[idx] = bias ? in[a * B + b] + bias[a / S] : in[a * B + b];
    }
}
