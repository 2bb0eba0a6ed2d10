"""What one training step asks of the GPU, counted on the emulated GPU.

On an H200 a generic CuPy call (an elementwise op, a reduction, a copy, a fill) costs about
46 µs of host time, one of our kernels about 8 µs (measured with CuPy 14.2): a step that makes
dozens of them is host-bound whatever its kernels do. CuPy allows them all; the rule is ours,
and so is the counter (tests/cuda_emu/our_rules.py), which sees every call the CuPy double
serves. Here the step is examples/train_dcgan.py's own, on dcgan64.
"""
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

import minigan
from cuda_emu import cupy_double
from cuda_emu.our_rules import counting
from minigan.data import BatchStream

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from train_dcgan import DCGAN  # noqa: E402


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
