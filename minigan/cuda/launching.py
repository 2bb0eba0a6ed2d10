"""The one launch helper: every kernel launch comes here, and every argument is checked.

``launch("leaky_relu", "leaky_relu_forward", dtype, blocks, *args)`` checks every argument
against the kernel's parameters, read from its .cu file (``loading.parameters``), then runs
the instance for float32 or float64 of a kernel in ``kernels/leaky_relu.cu`` on ``blocks``
blocks of THREADS threads. The launch sizes are computed beside each launch, with
``blocks_for``, ``tiles`` and ``channel_parts``; scalars go as NumPy scalars of their C type
(``scalar``), an absent optional array as ``NULL`` (``pointer``).

This module counts what it launches (``counts``), for the benchmarks. Every launch, from
whichever module, passes ``Kernel.check`` just before it runs: the one place a test may
watch them all (the other modules bind ``launch`` at import, so patching a name misses some).
"""
import numpy as np

from . import loading
from .loading import THREADS, TILE

MAX_BLOCKS = 65535     # grid-stride loops cover the rest

launches = 0   # our kernels launched so far in this process
gemms = 0      # of which GEMMs (kernels/gemm.cu): minigan.cuda.product


def counts():
    """``(launches, gemms)``: our kernel launches so far in this process, and how many of them
    were GEMMs (benchmarks/minigan_steps.py takes the difference over a step)."""
    return launches, gemms


def on_device(array):
    """True for a device array of the runtime in use (``loading.runtime.handles``), what
    ``Kernel.check`` asks of a pointer: a CuPy array, the one meaning of "on the device"
    (``backend.on_gpu``, which ``backend.arrays_for`` asks too; the tests' emulator stands
    in for CuPy there, so it means the same on the emulated GPU)."""
    return loading.runtime.handles(array)


# NOTE: per-channel sums (kernels/batch_norm.cu, kernels/reduce.cu's sum_channels) run in two
# stages, so that a few channels still make many blocks (meant to fill a card; not yet run on
# one): stage 1 aims at about 4 blocks per SM of a 132-SM H200, each part at least 2048
# values. Constants, not the card's own count: the parts, and so the order of the additions,
# are the same on every card and every rerun.
PART_BLOCKS, MIN_PART = 528, 2048


def channel_parts(c, m):
    """P: into how many parts stage 1 of a per-channel sum splits each of c channels' m values
    (the bounds of part p of them: kernels/common.cuh, ``part_bounds``)."""
    return max(1, min(-(-PART_BLOCKS // max(c, 1)), -(-m // MIN_PART)))


def blocks_for(n, threads=THREADS):
    """Blocks for n items, one per thread; past MAX_BLOCKS the kernels' grid-stride loops go on."""
    return max(1, min(MAX_BLOCKS, (n + threads - 1) // threads))


def tiles(*sizes):
    """Blocks for kernels/conv.cu's movers: a block per TILE x TILE tile of the last two
    sizes, times the product of the rest; past MAX_BLOCKS the blocks stride over the tiles."""
    *rest, rows, cols = sizes
    count = int(np.prod(rest, dtype=np.int64)) * -(-rows // TILE) * -(-cols // TILE)
    return blocks_for(count, threads=1)


def launch(file, name, dtype, blocks, *args):
    """Run ``name<dtype>`` of ``kernels/<file>.cu`` on ``blocks`` blocks of THREADS threads.

    Every launch comes here, on a GPU and on the tests' emulator alike, and every argument
    is checked first against the kernel's parameters: CuPy passes a pointer
    for an array and packs a scalar by its own type, so an array of another dtype, a view
    that is not dense, or an int64 where the kernel takes an int would be read wrongly
    without an error.
    """
    global launches, gemms
    # NOTE: the cache read inline: a Python call more would cost every launch
    kernel = _kernels.get((file, name, dtype, loading.runtime)) or get_kernel(file, name, dtype)
    kernel.check(args)
    kernel.function((blocks,), (THREADS,), args)
    launches += 1
    if file == "gemm":
        gemms += 1


_kernels = {}  # (file, name, dtype, runtime) -> Kernel: a launch is a lookup, a check, a call


def get_kernel(file, name, dtype):
    """The Kernel ``name<dtype>`` of ``kernels/<file>.cu`` for the runtime in use, made once;
    a TypeError for a dtype it has no instance of."""
    runtime = loading.runtime
    kernel = _kernels.get((file, name, dtype, runtime))
    if kernel is None:
        kernel = _kernels[file, name, dtype, runtime] = Kernel(file, name, np.dtype(dtype))
    return kernel


# NOTE: an absent optional array goes to a kernel as an 8-byte zero, NULL. CuPy 14 would
# pass None as NULL too (CuPy 13 passed 0xffffffff); a typed zero is checked like any scalar.
NULL = np.uint64(0)


def pointer(array):
    """An optional array argument: the array, or NULL."""
    return NULL if array is None else array


def scalar(value, dtype):
    """A kernel argument of the array's dtype (float32 or float64)."""
    return np.dtype(dtype).type(value)


class Kernel:
    """One kernel instance, ``name<dtype>``: its handle and what each parameter takes."""

    def __init__(self, file, name, dtype):
        if dtype not in loading.FLOAT_TYPES:
            raise TypeError(f"kernel {name}: no instance for dtype {dtype} (float32 and "
                            f"float64 only)")
        self.name, self.dtype = name, dtype
        self.params = loading.parameters(file, name)
        # per parameter: (is a pointer, the dtype it takes, the NumPy scalar type it takes)
        self.takes = [(pointer, dtype if ctype == "T" else loading.PARAMETER_TYPES[ctype])
                      for _, ctype, pointer in self.params]
        self.takes = [(pointer, d, d.type) for pointer, d in self.takes]
        self.function = loading.runtime.function(file, name, dtype)

    def check(self, args):
        """Raise unless each argument is what its parameter reads, with T = the dtype: for a
        pointer, a device array of its type that is dense and C-ordered (or NULL); otherwise
        a NumPy scalar of exactly its C type.

        NOTE: every launch pays for this loop, so the passing case only compares; the
        messages are written (by ``_refuse``) only for an argument that fails.
        """
        if len(args) != len(self.takes):
            raise TypeError(f"kernel {self.name} takes {len(self.takes)} arguments, got "
                            f"{len(args)}")
        handles = loading.runtime.handles
        for a, (pointer, dtype, scalar) in zip(args, self.takes):
            if pointer:
                if handles(a) and a.dtype == dtype and a.flags.c_contiguous:
                    continue
                if type(a) is np.uint64 and a == 0:   # NULL
                    continue
            elif type(a) is scalar:
                continue
            i = next(i for i, b in enumerate(args) if b is a)
            pname, ctype, _ = self.params[i]
            _refuse(f"kernel {self.name}<{loading.ctype(self.dtype)}>: argument {i} ({pname})",
                    a, ctype, pointer, dtype)


def _refuse(where, a, ctype, pointer, expected):
    """The error for an argument that ``Kernel.check`` did not pass."""
    if loading.runtime.handles(a):
        if not pointer:
            raise TypeError(f"{where} is a {ctype}, got a device array")
        if a.dtype != expected:
            raise TypeError(f"{where} has dtype {a.dtype}, expected {expected}")
        raise ValueError(f"{where} of shape {tuple(a.shape)} and strides {a.strides} is not "
                         f"dense and C-ordered")
    if isinstance(a, np.generic):
        if pointer:
            raise TypeError(f"{where} is a {ctype} array; got a {a.dtype} scalar (only NULL, "
                            f"np.uint64(0), stands for no array)")
        raise TypeError(f"{where} is a {ctype}, got {a.dtype} (scalars go as NumPy scalars of "
                        f"exactly the parameter's type)")
    raise TypeError(f"{where} is a {type(a).__name__}; a kernel takes device arrays and NumPy "
                    f"scalars of its parameters' C types")
