"""The emulated GPU itself: it must refuse what CuPy refuses, or its passing tests prove nothing.

The emulated device (tests/cuda_emu) is NumPy memory behind a CuPy double; these tests
hold the double to CuPy's rules, each one a way the GPU path once passed on the CPU and
would have failed on a GPU.
"""
import re
import subprocess

import numpy as np
import pytest

import minigan
import minigan.functional as F
from cuda_emu import cupy_double

xp = cupy_double.module


@pytest.fixture
def emulated(monkeypatch, emulator_lib):
    import cuda_emu
    cuda_emu.install(monkeypatch, emulator_lib)
    return "cuda"


def test_device_arrays_have_only_cupys_attributes(emulated):
    a = minigan.zeros(2, 3, device=emulated).data
    assert isinstance(a, xp.ndarray) and a.flags.c_contiguous and not a.T.flags.c_contiguous
    for numpy_only in ("ctypes", "tostring", "itemset", "setflags", "newbyteorder"):
        with pytest.raises(AttributeError, match="'cupy.ndarray' object has no attribute"):
            getattr(a, numpy_only)
    with pytest.raises(AttributeError):   # what the engine once read to decide on copies
        a.flags.writeable
    assert isinstance(a.data.ptr, int)    # a MemoryPointer, not a buffer


def test_host_arrays_do_not_mix_into_device_math(emulated):
    a, host = minigan.ones(3, device=emulated).data, np.ones(3)
    for mixed in (lambda: a + host, lambda: xp.maximum(a, host), lambda: xp.matmul(host, a),
                  lambda: xp.concatenate([a, host])):
        with pytest.raises(TypeError, match="Unsupported type"):
            mixed()
    assert isinstance(xp.asarray(host) + a, xp.ndarray)   # moved first: fine, as in CuPy


def test_reductions_and_integer_indexing_stay_on_the_device(emulated):
    a = minigan.tensor([[1.0, 2.0], [3.0, 4.0]], device=emulated).data
    for value in (a.sum(), a.max(), a[1, 0], xp.sum(a)):
        assert isinstance(value, xp.ndarray) and value.shape == ()
    assert float(a.sum()) == 10.0


def test_a_device_array_stays_on_the_device(emulated):
    # what test_adam_kernel once did: a device array wrapped again is still on the device
    t = minigan.tensor(minigan.zeros(3, device=emulated).data)
    assert t.device == "cuda"
    with pytest.raises(TypeError, match="cannot convert a cuda tensor to numpy"):
        t.numpy()
    np.testing.assert_array_equal(t.cpu().numpy(), np.zeros(3, np.float32))


def test_names_the_installed_cupy_lacks_are_refused():
    cupy = pytest.importorskip("cupy")
    assert cupy_double.NDARRAY_ATTRIBUTES <= set(dir(cupy.ndarray))
    numpy_only = [n for n in dir(np) if not n.startswith("_") and callable(getattr(np, n))
                  and not isinstance(getattr(np, n), type) and not hasattr(cupy, n)]
    assert numpy_only, "every NumPy function is in CuPy: pick another check"
    with pytest.raises(AttributeError, match="has no attribute"):
        getattr(xp, numpy_only[0])
    assert xp.put_along_axis is not None   # in CuPy since 14.0, which the extras ask for


def test_the_nvrtc_rounding_flushes_float_subnormals_and_fuses_multiply_adds(tmp_path):
    """The second rounding mode is not the first: a float kernel flushes subnormals (CuPy's
    -ftz=true), a double kernel keeps them, and Adam's multiply-adds are fused (NVRTC's
    --fmad=true), which moves some of its results by an ulp and no more."""
    import cuda_emu
    from minigan.optim import adam_update_cuda
    folders = {mode: cuda_emu.build(str(tmp_path / mode), mode) for mode in cuda_emu.ROUNDINGS}
    rng = np.random.default_rng(0)
    results = {}
    for mode, folder in folders.items():
        monkeypatch = pytest.MonkeyPatch()
        cuda_emu.install(monkeypatch, folder)
        try:
            tiny = [minigan.tensor(np.array([1e-40, -3e-39], dtype), device="cuda")
                    for dtype in (np.float32, np.float64)]
            leaky = [F.leaky_relu(t, 0.5).cpu().numpy() for t in tiny]
            p, g, m, v = (xp.asarray(a.astype(np.float32)) for a in rng.standard_normal((4, 999)))
            v = xp.abs(v)
            steps = xp.asarray(np.array([3], np.int64))
            adam_update_cuda(p, g, m, v, steps, lr=1e-3, beta1=0.5, beta2=0.999, eps=1e-8,
                             weight_decay=0.0)
            results[mode] = leaky, [cupy_double.host(a).copy() for a in (p, m, v)]
        finally:
            monkeypatch.undo()
        rng = np.random.default_rng(0)
    (exact_leaky, exact), (nvrtc_leaky, nvrtc) = results["exact"], results["nvrtc"]
    assert exact_leaky[0].tolist() == [np.float32(1e-40), np.float32(-3e-39) * np.float32(0.5)]
    assert nvrtc_leaky[0].tolist() == [0.0, 0.0]                  # flushed, in and out
    assert nvrtc_leaky[1].tolist() == exact_leaky[1].tolist() == [1e-40, -1.5e-39]
    moved = sum(int((a != b).sum()) for a, b in zip(exact, nvrtc))
    assert moved > 0, "no multiply-add was fused"
    for a, b in zip(exact, nvrtc):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=0)


# ---- the sources every compiler gets: kernels/common.cuh, then the file ----

def test_every_compile_takes_the_block_size_from_its_one_definition():
    """THREADS is minigan.cuda.THREADS, given to NVRTC, nvcc and the emulator alike as a
    -D option: no kernel file defines a block size of its own."""
    from minigan import cuda
    for file in cuda.kernel_files():
        assert f"-DTHREADS={cuda.THREADS}" in cuda.options(file), file
        own = (cuda.kernel_dir() / f"{file}.cu").read_text()
        assert not re.search(r"#define\s+\w*THREADS\b", own), file
        assert cuda.source(file).startswith('#line 1 "kernels/common.cuh"\n'), file


@pytest.mark.parametrize("where, planted", [
    ("reduce.cu", ("acc += x[i * C + j];", "acc += x[i * C + j] + planted;")),
    ("common.cuh", ("const long long chunk = (m + P - 1) / P;", "long long chunk = planted;"))])
def test_a_compile_error_points_at_its_own_file_and_line(tmp_path, where, planted):
    """The #line directives the loader writes hold after common.cuh is put in front: an
    error in a kernel file, or in common.cuh, names that file and its own line (g++ here,
    as the emulator compiles; NVRTC and nvcc read the same directives). Without -DTHREADS,
    common.cuh says what is missing."""
    import cuda_emu
    from minigan import cuda
    old, new = planted
    line = next(i for i, text in enumerate((cuda.kernel_dir() / where).read_text().split("\n"),
                                           1) if old in text)
    source = cuda.source("reduce")
    assert source.count(old) == 1
    path = tmp_path / "reduce.cpp"
    path.write_text('#include "cuda_emu.h"\n' + source.replace(old, new) +
                    "\ntemplate void sum_all<float>(const float*, float*, float, long long);\n"
                    "template void sum_rows<float>(const float*, float*, float, long long, "
                    "long long);\n")
    compile = ["g++", "-std=c++17", "-fsyntax-only", "-I", cuda_emu.HERE, str(path)]
    run = subprocess.run(compile + ["-DTHREADS=256"], capture_output=True, text=True)
    assert run.returncode != 0
    assert f"kernels/{where}:{line}:" in run.stderr, run.stderr
    path.write_text('#include "cuda_emu.h"\n' + source)
    run = subprocess.run(compile, capture_output=True, text=True)
    assert run.returncode != 0 and "compile with -DTHREADS=" in run.stderr, run.stderr
