"""Launches, checked in one place: what ``cuda.launch`` lets reach a kernel, which kernels
there are and which a path runs, and what one training step asks of the GPU.

Every kernel argument must be dense, C-ordered and of the kernel's dtype: ``cuda.launch``
checks it against the kernel's C signature, for every runtime (a RawKernel would misread it
without an error). On an H200 a generic CuPy call (an elementwise op, a reduction, a copy, a
fill) costs about 46 µs of host time, a bare RawKernel launch about 8 µs (the reference
prices given to the project, measured 2026-11-27 with CuPy 14.2, not through
minigan.cuda.launch): dozens of generic calls a step cost milliseconds of host time, as much
as a small model's arithmetic. CuPy allows them all; the rule is ours, and so is the counter (tests/cuda_emu/our_rules.py), which sees
every call the CuPy double serves. Here the step is examples/train_dcgan.py's own, on dcgan64.
"""
import re
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

import minigan
import minigan.functional as F
from cuda_emu import cupy_double
from cuda_emu.our_rules import counting
from minigan import cuda, nn
from minigan.data import BatchStream

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from train_dcgan import DCGAN  # noqa: E402


# ---- the launch: one check, whatever the runtime ----

class RecordingRuntime(cuda.CupyRuntime):
    """The real runtime's class, recording launches instead of compiling: what reaches it."""

    def __init__(self):
        self.launched = []

    def function(self, file, name, dtype):
        return lambda grid, block, args: self.launched.append((name, dtype))


@pytest.fixture
def recording(monkeypatch):
    cupy_double.install(monkeypatch)
    runtime = RecordingRuntime()
    monkeypatch.setattr(cuda.loading, "runtime", runtime)
    return runtime


def device_array(shape, dtype=np.float32):
    return cupy_double.module.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("position, bad, error, match", [
    (0, lambda: device_array((4, 3)).T, ValueError,
     r"argument 0 \(x\) of shape \(3, 4\).*not dense"),
    (0, lambda: cupy_double.module.broadcast_to(device_array((1, 3)), (4, 3)), ValueError,
     "not dense and C-ordered"),
    (0, lambda: device_array((4, 3))[:, ::2], ValueError, "not dense and C-ordered"),
    (0, lambda: device_array(12, np.float64), TypeError, r"argument 0 \(x\) has dtype float64"),
    (0, lambda: np.zeros(12, np.float32), TypeError, r"argument 0 \(x\) is a ndarray"),
    (0, lambda: np.float32(0.5), TypeError, "is a T array; got a float32 scalar"),
    (2, lambda: 0.5, TypeError, r"argument 2 \(slope\) is a float"),
    (2, lambda: np.float64(0.5), TypeError, r"argument 2 \(slope\) is a T, got float64"),
    (2, lambda: device_array(1), TypeError, "is a T, got a device array"),
    # CuPy would pack 4 bytes where the kernel reads 8: every later argument shifted
    (3, lambda: np.int32(12), TypeError, r"argument 3 \(n\) is a long long, got int32"),
    (3, lambda: np.int16(3), TypeError, "is a long long, got int16"),
])
def test_launch_refuses_what_a_kernel_would_misread(recording, position, bad, error, match):
    good = (device_array(12), device_array(12), np.float32(0.2), np.int64(12))
    args = list(good)
    args[position] = bad()
    with pytest.raises(error, match=match):
        cuda.launch("leaky_relu", "leaky_relu_forward", np.float32, 1, *args)
    with pytest.raises(TypeError, match="leaky_relu_forward takes 4 arguments, got 3"):
        cuda.launch("leaky_relu", "leaky_relu_forward", np.float32, 1, *good[:3])
    cuda.launch("leaky_relu", "leaky_relu_forward", np.float32, 1, *good)
    assert recording.launched == [("leaky_relu_forward", np.float32)]   # the bad one never did


def test_every_kernel_parameter_has_a_type_the_launch_can_check():
    for file in cuda.kernel_files():
        for name in cuda.kernels(file):
            assert cuda.parameters(file, name), (file, name)
    assert cuda.parameters("leaky_relu", "leaky_relu_forward") == (
        ("x", "T", True), ("y", "T", True), ("slope", "T", False), ("n", "long long", False))


def test_launch_refuses_a_dtype_without_an_instance(recording):
    with pytest.raises(TypeError, match="leaky_relu_forward: no instance for dtype float16"):
        cuda.launch("leaky_relu", "leaky_relu_forward", np.float16, 1)
    assert recording.launched == []


# ---- the kernels' names, read from their files ----

def test_every_kernel_is_launched_and_every_launch_names_a_kernel():
    package = Path(minigan.__file__).parent
    launched = set()
    for path in package.rglob("*.py"):
        launched.update(re.findall(r'launch\(\s*"(\w+)",\s*"(\w+)"', path.read_text()))
    kernels = {(file, name) for file in cuda.kernel_files() for name in cuda.kernels(file)}
    assert len(kernels) > 10, f"the parser found only {sorted(kernels)}: is it stale?"
    assert launched == kernels


def test_a_kernel_the_parser_cannot_read_is_an_error(monkeypatch):
    text = ('template <typename T>\n__global__ void scale(T* x, T a, long long n) {}\n'
            'extern "C" __global__ void fill(float* x, long long n) {}\n')
    monkeypatch.setattr(cuda.loading, "source", lambda file: text)
    with pytest.raises(ValueError, match="1 of its 2 __global__ functions"):
        cuda.kernels("not_a_file")


def test_threads_and_tile_have_one_definition_each():
    """minigan.cuda.loading defines THREADS and TILE; every compile gets them as -D options
    (NVRTC, nvcc in .ci/run and the emulator read ``cuda.options``), and no kernel file or
    other module defines them again."""
    for file in cuda.kernel_files():
        assert {"-DTHREADS=256", "-DTILE=32"} <= set(cuda.options(file)), file
    sources = [p.read_text() for p in Path(cuda.kernel_dir()).glob("*.cu*")]
    assert not any(re.search(r"#define\s+(THREADS|TILE)\b", text) for text in sources)
    package = Path(minigan.__file__).parent
    defined = [p.relative_to(package).as_posix() for p in package.rglob("*.py")
               if re.search(r"^(THREADS|TILE)\s*=", p.read_text(), re.M)]
    assert defined == ["cuda/loading.py"], defined


# ---- which kernels a path runs ----

def test_gradient_penalties_keep_batch_norm_and_bce_on_their_kernels(gpu, monkeypatch):
    """With create_graph (R1, WGAN-GP) the gradients of BatchNorm and BCE-with-logits are
    the same gradient ops as without: their kernels run, not a chain of generic calls."""
    launched = []
    check = cuda.launching.Kernel.check

    def recording(kernel, args):   # NOTE: every launch passes here, whoever calls launch
        launched.append(kernel.name)
        return check(kernel, args)

    monkeypatch.setattr(cuda.launching.Kernel, "check", recording)
    minigan.manual_seed(0)
    D = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2),
                      nn.Linear(4, 1)).to(gpu).double()
    x = minigan.tensor(np.random.default_rng(7).standard_normal((5, 6)), device=gpu,
                       requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(D(x), minigan.ones(5, 1, device=gpu,
                                                                 dtype=minigan.float64))
    launched.clear()
    gx, = minigan.grad(loss, [x], create_graph=True)
    # gemm: Linear's products, launched by minigan.cuda.gemm (which binds launch itself)
    for kernel in ("bce_with_logits_backward", "batch_norm_backward_reduce",
                   "batch_norm_backward_x", "leaky_relu_backward_x", "gemm"):
        assert kernel in launched, (kernel, launched)
    (gx * gx).sum().backward()          # the second derivative runs through them
    assert all(p.grad is not None for p in D.parameters())


# ---- what one training step asks of the GPU ----

@pytest.fixture
def emulated(monkeypatch, emulator_lib):
    import cuda_emu
    cuda_emu.install(monkeypatch, emulator_lib)
    return "cuda"


def dcgan64_step(device, batch=4, width=4, **flags):
    """train_dcgan's step on a dcgan64 of ``width`` channels (the layers of the full model,
    thinner: the count depends on the layers, not on their width); with its models."""
    minigan.manual_seed(0)
    args = Namespace(batch_size=batch, nz=100, ngf=width, ndf=width, d_steps=1,
                     label_smoothing=0.0, r1_gamma=0.0, r1_every=16, lr=2e-4, beta1=0.5,
                     beta2=0.999, image_size=64, cuda_graph=False)
    vars(args).update(flags)
    script = DCGAN()
    models, optimizers = script.build(script.arch(args, nc=3), args, device)
    images = np.random.default_rng(0).integers(0, 256, (4 * batch, 3, 64, 64), dtype=np.uint8)
    batches = BatchStream(images, batch, seed=0, device=device)
    return script.make_step(models, optimizers, batches, args, device), models, optimizers


def count_one_step(device):
    step, _, _ = dcgan64_step(device)
    step(1)   # the first step makes Adam's state
    with counting() as calls:
        step(2)
    return calls


def test_the_counter_sees_every_kind_of_call(emulated):
    xp = cupy_double.module
    with counting() as calls:
        a = xp.asarray(np.ones((2, 3), np.float32))   # host to device
        b = a.T.reshape(-1)                            # a copy: the transpose is not dense
        c = a + 1                                      # elementwise
        s = c.sum()                                    # a reduction
        a.T                                            # a view: nothing
        a @ a.T                                        # a product
        float(s)                                       # device to host
        xp.zeros(3)                                    # CuPy's fill
        minigan.zeros(3, device="cuda")                # ours
        xp.cuda.get_current_stream().synchronize()     # the host waits
    assert calls.names["h2d"] == {"asarray": 1}
    assert calls.names["generic"] == {"reshape": 1, "add": 1, "sum": 1, "zeros": 1}
    assert calls.names["kernel"] == {"fill": 1}
    assert calls.names["gemm"] == {"matmul 2-D": 1} and calls.names["d2h"] == {"get": 1}
    assert calls.names["sync"] == {"stream": 1} and b.shape == (6,)
    with counting() as calls:
        stack = xp.asarray(np.ones((2, 3, 3), np.float32))
        stack @ stack.transpose(0, 2, 1)                # N-D: CuPy copies the transposed operand
    assert calls.names["gemm"] == {"matmul 3-D": 1}
    assert calls.names["generic"] == {"matmul's copy": 1}


def test_a_dcgan64_training_step_makes_no_generic_cupy_call(emulated):
    calls = count_one_step(emulated)
    assert calls["generic"] == 0, f"generic CuPy calls in one dcgan64 step: {calls}"
    # every product is our GEMM kernel: no cuBLAS, which a captured step could not call
    assert calls["gemm"] == 0 and calls.names["kernel"]["gemm"] > 0, calls
    # the noise is made on the device, the epoch's order went there once, nothing is read,
    # and the host never waits
    assert calls["h2d"] == 0 and calls["d2h"] == 0 and calls["sync"] == 0, calls
    # the "now" column of docs/11-the-gpu-step.md's table: change the page with these
    kernels = calls.names["kernel"]
    assert (calls["kernel"], kernels["gemm"]) == (334, 57), calls
    assert kernels["batch_norm_forward_stats"] + kernels["batch_norm_backward_reduce"] == 26, calls


def test_the_benchmark_counts_our_kernels_and_the_products(emulated):
    """benchmarks/gan_step.py's "launches per step" line, against the double's own count."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import minigan_steps
    step = minigan_steps.gan_step("mlp-gan", 4, emulated)
    step()   # the first step makes Adam's state
    with counting() as calls:
        kernels, gemms = map(int, minigan_steps.launches(step, emulated).split(" + "))
    assert gemms == calls.names["kernel"]["gemm"] > 0, calls
    assert kernels + gemms == calls["kernel"] and calls["generic"] == calls["gemm"] == 0, calls
