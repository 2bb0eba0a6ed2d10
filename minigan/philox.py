"""Philox4x32-10 in NumPy, and its words turned into numbers: the reference of kernels/random.cu.

Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) turns a
key (the seed) and a counter into four random 32-bit words, with nothing carried from one
call to the next. So block i of a draw is Philox(seed, offset + i) wherever it is computed:
here, or on a GPU by ``kernels/random.cu``, one thread a block. Both turn words into numbers
with the same operations, so a seed gives the same numbers on the CPU and on the GPU, bit for
bit. ``uniform`` and ``normal`` are the NumPy namespace's draws (``minigan.arrays``); the
generator's state, (seed, offset), is ``minigan.random``'s.
"""
import math

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)   # the round multipliers
W0, W1 = 0x9E3779B9, 0xBB67AE85                          # the key schedule (Weyl sequence)
LOW, SHIFT = np.uint64(0xFFFFFFFF), np.uint64(32)


def philox4x32(c, key):
    """Philox4x32-10 of 32-bit words: counters c (4, n) and a key (k0, k1) -> (4, n) words.

    Every word is held in a uint64 so that a 32 x 32-bit product keeps its high half.
    """
    c0, c1, c2, c3 = (np.asarray(w, np.uint64) for w in c)
    k0, k1 = key
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> SHIFT) ^ c1 ^ np.uint64(k0), p1 & LOW,
                          (p0 >> SHIFT) ^ c3 ^ np.uint64(k1), p0 & LOW)
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF   # as C's uint32 wraps
    return np.stack([c0, c1, c2, c3]).astype(np.uint32)


def blocks(seed, offset, n):
    """Blocks offset .. offset + n - 1 of the stream of ``seed``: (4, n) uint32 words.

    Block i's counter is the 64-bit number offset + i, as (low, high, 0, 0) words; the key
    is the seed's two 32-bit halves.
    """
    i = np.uint64(offset) + np.arange(n, dtype=np.uint64)
    zero = np.zeros(n, np.uint64)
    return philox4x32((i & LOW, i >> SHIFT, zero, zero), (seed & 0xFFFFFFFF, seed >> 32))


# ---- words to numbers: only + - * / and sqrt, each rounded once, the same in the kernel ----
# NOTE: log, sin and cos of a C library and of CUDA differ in the last bit, so they are
# written here as polynomials; the kernel is compiled without fused multiply-adds
# (--fmad=false), so both devices round every operation alike and agree bit for bit.
LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10   # ln 2 = HI + LO
HALF_PI = 1.57079632679489661923
SQRT_HALF = 0.70710678118654752440
LOG_TERMS = 1.0 / np.arange(1, 25, 2, dtype=np.float64)             # 1, 1/3, 1/5, ... 1/23
FACTORIAL = np.cumprod(np.r_[1.0, np.arange(1, 20, dtype=np.float64)])  # 0!, 1!, ... 19!
SIN_TERMS = np.array([(-1) ** k / FACTORIAL[2 * k + 1] for k in range(10)])
COS_TERMS = np.array([(-1) ** k / FACTORIAL[2 * k] for k in range(10)])


def _horner(terms, z):
    total = np.full_like(z, terms[-1])
    for c in terms[-2::-1]:
        total = total * z + c
    return total


def _log(u):
    """ln u for u in (0, 1]: u = f 2^e with f in [√½, √2), ln f = 2 atanh((f - 1) / (f + 1))."""
    f, e = np.frexp(u)                        # exact: f in [½, 1)
    low = f < SQRT_HALF
    f, e = np.where(low, f * 2, f), np.where(low, e - 1, e).astype(np.float64)
    s = (f - 1) / (f + 1)
    return e * LN2_HI + (e * LN2_LO + 2 * s * _horner(LOG_TERMS, s * s))


def _cos_sin_2pi(u):
    """cos 2πu and sin 2πu for u in [0, 1): a quarter turn k, then Taylor on |a| ≤ π/4."""
    t = 4 * u
    k = np.floor(t + 0.5)
    a = (t - k) * HALF_PI
    z = a * a
    c, s = _horner(COS_TERMS, z), a * _horner(SIN_TERMS, z)
    quarter = k.astype(np.int64) % 4          # cos(kπ/2 + a), sin(kπ/2 + a)
    cos = np.choose(quarter, [c, -s, -c, s])
    sin = np.choose(quarter, [s, c, -s, -c])
    return cos, sin


def _unit(high, low):
    """A double in [0, 1) from two words: 26 + 26 bits, exact."""
    return ((high >> 6).astype(np.float64) * 2.0 ** 26 + (low >> 6)) * 2.0 ** -52


def uniform_from(words, dtype):
    """Uniform numbers in [0, 1) from (4, n) words, 2 a block, in block order: a double of
    52 bits from each pair of words; float32 keeps its first 24 bits (rounded down, so the
    float32 draw is the float64 draw to 2⁻²⁴, and never reaches 1)."""
    if np.dtype(dtype) == np.float32:
        high = np.stack([words[0], words[2]], axis=1).ravel()
        return (high >> 8).astype(np.float32) * np.float32(2.0 ** -24)
    return np.stack([_unit(words[0], words[1]), _unit(words[2], words[3])], axis=1).ravel()


def normal_from(words, dtype):
    """Standard normals from (4, n) words, 2 a block, by Box–Muller in double, then rounded:
        u₁ in (0, 1], u₂ in [0, 1):  r = √(-2 ln u₁),  z₀ = r cos 2πu₂,  z₁ = r sin 2πu₂."""
    u1 = 1.0 - _unit(words[0], words[1])      # NOTE: (0, 1]: ln u₁ is finite
    u2 = _unit(words[2], words[3])
    r = np.sqrt(-2.0 * _log(u1))
    cos, sin = _cos_sin_2pi(u2)
    return np.stack([r * cos, r * sin], axis=1).ravel().astype(dtype)


PER_BLOCK = 2   # numbers a block makes, uniform or normal, float32 or float64


def uniform(shape, dtype, seed, offset):
    """Uniform numbers in [0, 1) of ``shape`` and ``dtype``, from blocks offset, offset + 1, ...
    of the stream of ``seed`` (kernels/random.cu's random_uniform)."""
    n = math.prod(shape)
    return uniform_from(blocks(seed, offset, -(-n // PER_BLOCK)), dtype)[:n].reshape(shape)


def normal(shape, dtype, seed, offset):
    """Standard normals, as ``uniform`` (kernels/random.cu's random_normal)."""
    n = math.prod(shape)
    return normal_from(blocks(seed, offset, -(-n // PER_BLOCK)), dtype)[:n].reshape(shape)
