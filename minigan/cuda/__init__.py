"""minigan's CUDA side: our kernels (``kernels/*.cu``), loaded, launched and captured.

The package's modules depend one way, each on those above it here:

- ``loading``: the kernels' sources, names, parameters, name expressions and compiler
  options (THREADS and TILE among them); ``CupyRuntime``, which compiles them, and
  ``runtime``, the one in use;
- ``launching``: ``launch``, which checks every argument against the kernel's C signature;
  the cached handles, the launch sizes and the launch counts;
- ``memory``: new device arrays (``empty``), ``dense``, ``fill``, ``full``, ``copy``, and
  ``keep_alive`` for the arrays of a step being captured;
- ``gemm``: ``product``, our GEMM kernel: every product on the GPU runs it (MatMul, Linear
  and the convs through the namespace's ``product``), for every dtype;
- ``graphs``: ``CapturedStep``, a training step captured once as a CUDA graph and replayed;
- ``arrays``: the GPU's array namespace (``backend.arrays_for`` hands it out), over memory
  and gemm; it alone also imports minigan.autograd.profiler (to tag the products), so this
  file does not import it: ``from minigan.cuda import arrays``.

This file is the public face: ``minigan.cuda.is_available()``, the TF32 switch
``minigan.cuda.matmul.allow_tf32``, and the names the ops use. What changes while a process
runs lives in its own module and is read there: the runtime (``loading.runtime``, which
the tests swap for an emulator) and the launch counts (``counts()``).
"""
from .. import backend
from .gemm import product
from .graphs import CapturedStep, capturing, on_replay
from .launching import (MAX_BLOCKS, NULL, blocks_for, channel_parts, counts, launch, on_device,
                        pointer, scalar, tiles)
from .loading import (FLOAT_TYPES, THREADS, TILE, CupyRuntime, instance, kernel_dir, kernel_files,
                      kernels, name_expressions, options, parameters, source)
from .memory import copy, dense, empty, empty_like, fill, full, keep_alive


def is_available():
    """``minigan.cuda.is_available()``, as ``torch.cuda.is_available()``."""
    return backend.gpu_available()


class _Matmul:
    """``minigan.cuda.matmul.allow_tf32``, as PyTorch's ``torch.backends.cuda.matmul.allow_tf32``:
    whether float32 products may round their inputs to TF32 on the tensor cores.

    It allows, it does not ask. Every product on the GPU is our GEMM kernel
    (kernels/gemm.cu, ``product``; another dtype than float32 and float64 is a TypeError,
    never a cuBLAS call), which has no tensor-core path yet: float32 products stay float32
    whatever the flag says.
    """
    allow_tf32 = False


matmul = _Matmul()

__all__ = ["CapturedStep", "CupyRuntime", "FLOAT_TYPES", "MAX_BLOCKS", "NULL", "THREADS", "TILE",
           "blocks_for", "capturing", "channel_parts", "copy", "counts", "dense", "empty",
           "empty_like", "fill", "full", "instance", "is_available", "kernel_dir", "kernel_files",
           "kernels", "keep_alive", "launch", "matmul", "name_expressions", "on_device",
           "on_replay", "options", "parameters", "pointer", "product", "scalar", "source", "tiles"]
