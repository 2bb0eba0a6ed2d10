"""A training step captured as a CUDA graph (minigan.cuda.CapturedStep), on the emulated GPU.

The emulator's streams capture as CUDA's do: while a stream captures, our kernels and the
matrix products are recorded, not run, and a copy to or from the host, a synchronize or a
generic CuPy call is refused (tests/cuda_emu/cupy_double.py). ``Graph.launch`` runs what
was recorded, in order, on the same addresses, and refuses to run when an array made during
the capture has been freed (on a GPU, CuPy's pool would hand its block out again). What only
a GPU can show (the speed, CuPy's pool itself) is scripts/gpu_check.py's part ``graph``.
"""
import numpy as np
import pytest

import minigan
from cuda_emu import cupy_double
from test_launch_count import dcgan64_step


@pytest.fixture
def emulated(monkeypatch, emulator_lib):
    import cuda_emu
    cuda_emu.install(monkeypatch, emulator_lib)
    return "cuda"


def state(models, optimizers):
    """Every number a run carries from step to step, as bytes: weights, BatchNorm's running
    statistics and counts, Adam's moments and step counts."""
    arrays = [m.state_dict() for m in models.values()] + \
             [o.state_dict() for o in optimizers.values()]
    return minigan.serialization.leaves(arrays)


def run(device, steps, **flags):
    step, models, optimizers = dcgan64_step(device, **flags)
    values = [{k: v.item() for k, v in step(i).items()} for i in range(1, steps + 1)]
    return values, state(models, optimizers)


def same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if hasattr(a, "shape"):
        a, b = (x.cpu().numpy() if hasattr(x, "cpu") else np.asarray(x) for x in (a, b))
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return a == b or (a != a and b != b)


def test_graph_steps_equal_eager_steps_bit_for_bit(emulated):
    # 2 warm-up steps, the capture (launched once), then 3 replays
    eager_values, eager_state = run(emulated, 6)
    graph_values, graph_state = run(emulated, 6, cuda_graph=True)
    assert graph_values == eager_values
    assert same(graph_state, eager_state)


def test_a_replay_is_one_graph_launch_and_no_generic_call(emulated):
    step, _, _ = dcgan64_step(emulated, cuda_graph=True)
    for i in range(1, 4):
        step(i)
    with cupy_double.counting() as eager:
        dcgan64_step(emulated)[0](1)
    with cupy_double.counting() as replay:
        step(4)
    assert replay["generic"] == 0 and replay["d2h"] == 0 and replay["h2d"] == 0, replay
    # outside the graph: the batch, the noise, their copies into the graph's buffers and the
    # copies of the values out
    assert replay["kernel"] <= 10 < eager["kernel"], (replay, eager)


def test_a_host_read_in_a_captured_step_is_refused(emulated):
    x = minigan.ones(3, device=emulated)
    step = minigan.cuda.CapturedStep(lambda x: {"v": (x * 2).sum().item()}, lambda: [x],
                                     warmup=0)
    with pytest.raises(RuntimeError, match="cudaErrorStreamCaptureUnsupported"):
        step()
    assert not cupy_double.capturing()   # the capture ended, the emulator is usable again


def test_an_array_freed_during_or_after_a_capture_is_refused(emulated):
    """The emulated graph keeps addresses, as a CUDA graph: an array made during the capture
    must live as long as the graph (minigan.cuda.kept, CapturedStep.kept)."""
    from minigan import cuda
    stream = cupy_double.module.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        kept = cuda.full(3, 1.0, np.float32)
        cuda.full(3, 2.0, np.float32)          # made, then freed: its block goes back
        with pytest.raises(RuntimeError, match="1 of the 2 arrays made during a capture were "
                                               "freed before the capture ended"):
            stream.end_capture()
        stream.begin_capture()
        kept = cuda.full(3, 1.0, np.float32)
        graph = stream.end_capture()
    graph.launch()
    assert cupy_double.host(kept).tolist() == [1.0, 1.0, 1.0]
    del kept                                  # alive at the end, freed before a launch
    with pytest.raises(RuntimeError, match="1 of the 1 arrays .* freed before a launch"):
        graph.launch()
