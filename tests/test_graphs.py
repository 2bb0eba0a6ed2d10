"""A training step captured as a CUDA graph (minigan.cuda.CapturedStep), on the emulated GPU.

The emulator's streams capture under CuPy's rules (tests/cuda_emu/cupy_streams.py; ported
from CuPy's own tests in test_cupy_rules_streams.py): while a stream captures, every launch is kept
for the graph, not run; a cuBLAS call, a copy to or from the host and a synchronize are
refused. ``Graph.launch`` runs what was kept, in order, on the same addresses; CuPy's pool
hands a freed block out again at once, so a graph whose memory was freed computes wrong
numbers, as it would on a GPU. What only a GPU can show (the speed, CuPy's pool itself) is
scripts/gpu_check.py's parts ``capture`` and ``graph``.
"""
import numpy as np
import pytest

import minigan
from cuda_emu import cupy_double, our_rules
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


def test_a_captured_step_keeps_alive_every_array_its_graph_writes(emulated):
    step, _, _ = dcgan64_step(emulated, cuda_graph=True)
    for i in range(1, 6):
        step(i)
    cells = dict(zip(step.__code__.co_freevars, step.__closure__))   # train_dcgan's step
    graph = cells["captured"].cell_contents.graph
    assert len(graph.made) > 100 and our_rules.freed(graph) == 0


def test_a_replay_is_one_graph_launch_and_no_generic_call(emulated):
    step, _, _ = dcgan64_step(emulated, cuda_graph=True)
    for i in range(1, 4):
        step(i)
    eager_step = dcgan64_step(emulated)[0]
    eager_step(1)   # the first step makes Adam's state
    with our_rules.counting() as eager:
        eager_step(2)
    with our_rules.counting() as replay:
        step(4)
    assert replay["generic"] == replay["gemm"] == replay["sync"] == 0, replay
    assert replay["d2h"] == replay["h2d"] == 0, replay
    # outside the graph: the batch, the noise, their copies into the graph's buffers and the
    # copies of the values out (docs/11-the-gpu-step.md gives both counts)
    assert (replay["kernel"], eager["kernel"]) == (8, 334), (replay, eager)


def test_a_host_read_in_a_captured_step_is_refused(emulated):
    x = minigan.ones(3, device=emulated)
    step = minigan.cuda.CapturedStep(lambda x: {"v": (x * 2).sum().item()}, lambda: [x],
                                     warmup=0)
    with pytest.raises(RuntimeError, match="the current stream is capturing, so D2H"):
        step()
    # the capture ended; the emulator is usable again
    assert not step.stream.is_capturing() and float(minigan.ones(2, device=emulated).sum()) == 2


def test_a_graph_over_freed_memory_computes_wrong_numbers(emulated):
    """What minigan.cuda.memory.keep_alive prevents: CuPy's pool gives a block freed after the
    capture to the next allocation on that stream, and the graph writes over it at its next
    launch."""
    from minigan import cuda
    stream = cupy_double.module.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        kept = cuda.full(64, 1.0, np.float32)
        freed = cuda.full(64, 2.0, np.float32)
        graph = stream.end_capture()
        assert our_rules.freed(graph) == 0
        del freed
        assert our_rules.freed(graph) == 1
        mine = cuda.full(64, 5.0, np.float32)   # the freed block, handed out again
    graph.launch()
    assert cupy_double.host(kept).tolist() == [1.0] * 64
    assert cupy_double.host(mine).tolist() == [2.0] * 64, "the graph wrote over it"


def test_keep_alive_holds_what_empty_makes_inside_it_only(emulated):
    """``minigan.cuda.memory.keep_alive``: the list a capture holds on to. It gets every array
    made inside the block, nothing after it, and one capture at a time."""
    from minigan import cuda
    before = cuda.empty(4, np.float32)
    with cuda.keep_alive() as kept:
        a = cuda.full(4, 1.0, np.float32)
        b = cuda.empty_like(a)
        with pytest.raises(RuntimeError, match="already keeping"):
            with cuda.keep_alive():
                pass
    after = cuda.empty(4, np.float32)
    assert [id(x) for x in kept] == [id(a), id(b)]
    assert all(x is not before and x is not after for x in kept)
