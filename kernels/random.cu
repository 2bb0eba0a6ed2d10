// Philox4x32-10 random numbers, made on the device. NumPy reference: minigan/philox.py
// (philox4x32, blocks, uniform_from, normal_from), the same operations in the same order.
//   block i of a draw: the four words of Philox(key = seed, counter = offset + i)
//   uniform double: 52 bits of a pair of words, 2 a block; float: its first 24 bits
//   normal: u1 = 1 - unit(w0, w1), u2 = unit(w2, w3), r = sqrt(-2 ln u1),
//           z0 = r cos 2 pi u2,  z1 = r sin 2 pi u2   (in double, then rounded to T)
// NOTE: ln, cos and sin are the polynomials of minigan/philox.py, not CUDA's (which differ from
// the C library's in the last bit), and minigan.cuda compiles this file with --fmad=false, so
// every operation is rounded once, as NumPy rounds it: the CPU and the GPU agree bit for bit.
// One thread a block, grid-stride loop; n counts the numbers asked for.

__device__ void philox4x32(unsigned int c[4], unsigned long long seed) {
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        const unsigned long long p0 = 0xD2511F53ull * c[0], p1 = 0xCD9E8D57ull * c[2];
        const unsigned int n0 = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
        const unsigned int n2 = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0; c[1] = (unsigned int)p1; c[2] = n2; c[3] = (unsigned int)p0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;       // wraps modulo 2^32
    }
}

__device__ void words(unsigned int c[4], unsigned long long seed, unsigned long long counter) {
    c[0] = (unsigned int)counter; c[1] = (unsigned int)(counter >> 32); c[2] = 0; c[3] = 0;
    philox4x32(c, seed);
}

__device__ double unit(unsigned int high, unsigned int low) {   // [0, 1), 26 + 26 bits
    return (double(high >> 6) * 67108864.0 + double(low >> 6)) * 2.220446049250313080847e-16;
}

__device__ double horner(const double* terms, int count, double z) {
    double total = terms[count - 1];
    for (int k = count - 2; k >= 0; --k) total = total * z + terms[k];
    return total;
}

__device__ double log_unit(double u) {   // ln u for u in (0, 1]
    int e;
    double f = frexp(u, &e);
    if (f < 0.70710678118654752440) { f = f * 2; e -= 1; }
    const double s = (f - 1) / (f + 1);
    double terms[12];
    for (int k = 0; k < 12; ++k) terms[k] = 1.0 / double(2 * k + 1);
    const double ed = double(e);
    return ed * 6.93147180369123816490e-01 +
           (ed * 1.90821492927058770002e-10 + 2 * s * horner(terms, 12, s * s));
}

__device__ void cos_sin_2pi(double u, double* cos_out, double* sin_out) {
    const double t = 4 * u;
    const double k = floor(t + 0.5);
    const double a = (t - k) * 1.57079632679489661923;
    const double z = a * a;
    double sin_terms[10], cos_terms[10], factorial = 1.0;   // (-1)^k / (2k+1)!, / (2k)!
    for (int k2 = 0; k2 < 10; ++k2) {
        const double sign = (k2 % 2) ? -1.0 : 1.0;
        cos_terms[k2] = sign / factorial;          // factorial = (2 k2)!
        factorial *= double(2 * k2 + 1);
        sin_terms[k2] = sign / factorial;          // (2 k2 + 1)!
        factorial *= double(2 * k2 + 2);
    }
    const double c = horner(cos_terms, 10, z), s = a * horner(sin_terms, 10, z);
    switch (((long long)k) % 4) {                   // cos(k pi/2 + a), sin(k pi/2 + a)
        case 0: *cos_out = c; *sin_out = s; break;
        case 1: *cos_out = -s; *sin_out = c; break;
        case 2: *cos_out = -c; *sin_out = -s; break;
        default: *cos_out = s; *sin_out = -c; break;
    }
}

template <typename T>
__global__ void random_uniform(T* __restrict__ out, unsigned long long seed,
                               unsigned long long offset, long long n) {
    const long long count = (n + 1) / 2;
    for (long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x; b < count;
         b += (long long)blockDim.x * gridDim.x) {
        unsigned int c[4];
        words(c, seed, offset + (unsigned long long)b);
        T u0, u1;
        if (sizeof(T) == 4) {   // the first 24 bits of the double: rounded down, below 1
            u0 = T(float(c[0] >> 8) * 5.9604644775390625e-08f);
            u1 = T(float(c[2] >> 8) * 5.9604644775390625e-08f);
        } else {
            u0 = T(unit(c[0], c[1]));
            u1 = T(unit(c[2], c[3]));
        }
        out[2 * b] = u0;
        if (2 * b + 1 < n) out[2 * b + 1] = u1;
    }
}

template <typename T>
__global__ void random_normal(T* __restrict__ out, unsigned long long seed,
                              unsigned long long offset, long long n) {
    const long long count = (n + 1) / 2;
    for (long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x; b < count;
         b += (long long)blockDim.x * gridDim.x) {
        unsigned int c[4];
        words(c, seed, offset + (unsigned long long)b);
        const double u1 = 1.0 - unit(c[0], c[1]), u2 = unit(c[2], c[3]);
        const double r = sqrt(-2.0 * log_unit(u1));
        double cos_v, sin_v;
        cos_sin_2pi(u2, &cos_v, &sin_v);
        out[2 * b] = T(r * cos_v);
        if (2 * b + 1 < n) out[2 * b + 1] = T(r * sin_v);
    }
}
