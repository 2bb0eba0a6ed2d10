"""Hypothesis profiles and the fixtures shared by every test file.

HYPOTHESIS_PROFILE=ci runs few examples per property (CI sets it); the
default profile, dev, runs Hypothesis' usual hundred.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

import cuda_emu
from helpers import DEVICES, EVERY_DEVICE, GPUS
from minigan import cuda

settings.register_profile("ci", max_examples=15, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=DEVICES, scope="session")
def device(request):
    """'cpu', and 'cuda' where a GPU is present: every op test runs on both."""
    return request.param


@pytest.fixture(scope="session")
def emulator_lib(tmp_path_factory):
    try:
        lib = cuda_emu.build(str(tmp_path_factory.mktemp("cuda_emu")))
    except Exception as e:   # a compiler without C++20 <barrier>, say
        pytest.skip(f"cannot build the kernel emulator: {e}")
    if lib is None:
        pytest.skip("no g++ to build the kernel emulator")
    return lib


def _use(name, request, monkeypatch):
    """The device string for a test of ``name``: 'cpu', 'emulated' or 'cuda'.

    'emulated' is the device 'cuda' with the CuPy double and our kernels run on the CPU by
    tests/cuda_emu. On both GPUs new kernel outputs start as NaN, so an element a kernel
    forgets to write shows."""
    if name == "cpu":
        return "cpu"
    if name == "emulated":
        cuda_emu.install(monkeypatch, request.getfixturevalue("emulator_lib"))
    else:
        runtime = cuda.CupyRuntime()
        runtime.poison = True
        monkeypatch.setattr(cuda, "runtime", runtime)
    return "cuda"


@pytest.fixture(params=GPUS)
def gpu(request, monkeypatch):
    """The device 'cuda', emulated, and on a real GPU where there is one."""
    return _use(request.param, request, monkeypatch)


@pytest.fixture(params=EVERY_DEVICE)
def every_device(request, monkeypatch):
    """'cpu', then 'cuda' emulated, and on a real GPU where there is one."""
    return _use(request.param, request, monkeypatch)
