"""``python -m cuda_emu SCRIPT [ARGS...]`` (with tests/ on PYTHONPATH): SCRIPT on the emulated GPU.

The CuPy double and the kernel emulator are installed in this process, then SCRIPT runs as
``__main__``: ``examples/train_dcgan.py --device cuda`` takes the whole GPU path on a CPU
(models moved to the device, kernels, checkpoints and resume). CUDA_EMU_LIB names the folder
of the emulator's libraries, built already (the tests pass theirs); without it they are built
here, rounding as CUDA_EMU_ROUNDING says (tests/cuda_emu/__init__.py).
"""
import os
import runpy
import sys
import tempfile

import pytest

import cuda_emu

if len(sys.argv) < 2:
    sys.exit("usage: python -m cuda_emu SCRIPT [ARGS...]")
lib = os.environ.get("CUDA_EMU_LIB") or cuda_emu.build(tempfile.mkdtemp(prefix="cuda_emu"))
cuda_emu.install(pytest.MonkeyPatch(), lib)
script, sys.argv = sys.argv[1], sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
runpy.run_path(script, run_name="__main__")
