"""Hypothesis profiles and the fixtures shared by every test file.

The default profile, ci, runs 15 examples a property: what CI runs (.ci/run sets it too),
and what keeps the README's quick run quick. HYPOTHESIS_PROFILE=dev runs Hypothesis'
usual hundred, for a thorough look at an op being changed.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

import cuda_emu
from helpers import DEVICES, GPUS, NO_GPU
from minigan import cuda

# NOTE: the device fixtures are function-scoped (they install the emulated GPU with monkeypatch)
# and the same for every example, which Hypothesis' health check cannot know
_FIXTURES_OK = [HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=15, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, *_FIXTURES_OK])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=_FIXTURES_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """A test that needs a real GPU must carry the mark 'gpu': gpu_check.py runs -m gpu.

    With CUDA_EMU_ROUNDING=nvrtc (the emulator rounding as a GPU does, tests/cuda_emu), only
    the tests that run on the emulated GPU are run: the others do not depend on it."""
    for item in items:
        needs_gpu = any(mark.kwargs.get("reason") == NO_GPU
                        for mark in item.iter_markers("skipif"))
        if needs_gpu and item.get_closest_marker("gpu") is None:
            raise pytest.UsageError(f"{item.nodeid} needs a GPU but lacks the mark 'gpu'")
    if cuda_emu.ROUNDING != "exact":
        emulated = [item for item in items if _emulated(item)]
        config.hook.pytest_deselected(items=[i for i in items if not _emulated(i)])
        items[:] = emulated


def _emulated(item):
    params = getattr(item, "callspec", None)
    return "emulator_lib" in item.fixturenames or (params is not None and "emulated" in (
        params.params.get("device"), params.params.get("gpu")))


@pytest.fixture(params=DEVICES)
def device(request, monkeypatch):
    """'cpu', then 'cuda' emulated, and on a real GPU where there is one: every op test runs
    on the NumPy path and on the GPU path."""
    return _use(request.param, request, monkeypatch)


@pytest.fixture(scope="session")
def emulator_lib(tmp_path_factory):
    """The kernels built for the emulator, rounding as CUDA_EMU_ROUNDING says (tests/cuda_emu).
    NOTE: no g++ is a failure, not a skip: without it the GPU path would go untested while
    the suite still passed."""
    lib = cuda_emu.build(str(tmp_path_factory.mktemp("cuda_emu")))
    if lib is None:
        pytest.fail("no g++ to build the kernel emulator (tests/cuda_emu)")
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
        monkeypatch.setattr(cuda.loading, "runtime", runtime)
    return "cuda"


@pytest.fixture(params=GPUS)
def gpu(request, monkeypatch):
    """The device 'cuda', emulated, and on a real GPU where there is one."""
    return _use(request.param, request, monkeypatch)
