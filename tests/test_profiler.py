"""minigan.autograd.profile: calls, forward and backward time per op type, share of the block;
the tagged work (products, movers) by kind and phase; CUDA events on the GPU."""
import threading
import time

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import nn
from minigan.autograd import profile, profiler
from minigan.ops import activation


def gan_like_step(device):
    """A small D step: Linear, LeakyReLU, BatchNorm, Linear, BCE, Adam."""
    minigan.manual_seed(0)
    D = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2),
                      nn.Linear(8, 1)).to(device)
    opt = minigan.optim.Adam(D.parameters(), lr=1e-3)
    x = minigan.randn(5, 6, device=device)

    def step():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(D(x), minigan.ones(5, 1, device=device))
        loss.backward()
        opt.step()
        return loss
    return step, D


def test_one_row_per_op_type_with_its_calls(device):
    step, _ = gan_like_step(device)
    with profile() as prof:
        step()
        step()
    rows = {s.name: s for s in prof.key_averages()}
    assert {"Linear", "BatchNorm", "LeakyReLU", "BCEWithLogits", "Adam.step"} <= set(rows)
    assert rows["Linear"].calls == 4 and rows["BatchNorm"].calls == 2
    assert rows["Adam.step"].calls == 2 and rows["Adam.step"].forward_ms == 0
    # the ops a backward runs count as that backward: BatchNormGrad and LeakyReLUGrad are no rows
    assert "BatchNormGrad" not in rows and "LeakyReLUGrad" not in rows
    assert rows["BatchNorm"].backward_ms > 0 and rows["LeakyReLU"].backward_ms > 0
    for s in rows.values():
        assert s.total_ms == pytest.approx(s.forward_ms + s.backward_ms + s.other_ms)
    assert 0 < sum(s.total_ms for s in rows.values()) <= prof.total_ms


def test_a_slow_forward_and_a_slow_backward_land_in_their_own_columns(monkeypatch):
    forward, backward = activation.LeakyReLU.forward, activation.LeakyReLU.backward

    def slow_forward(self, x):
        time.sleep(0.03)
        return forward(self, x)

    def slow_backward(self, gy):
        time.sleep(0.06)
        return backward(self, gy)
    monkeypatch.setattr(activation.LeakyReLU, "forward", slow_forward)
    monkeypatch.setattr(activation.LeakyReLU, "backward", slow_backward)
    x = minigan.randn(4, requires_grad=True)
    with profile(use_cuda=False) as prof:
        F.leaky_relu(x, 0.1).sum().backward()
    row = next(s for s in prof.key_averages() if s.name == "LeakyReLU")
    assert 30 <= row.forward_ms < 55 and 60 <= row.backward_ms < 85
    assert prof.key_averages()[0].name == "LeakyReLU"        # the largest row first
    assert row.total_ms / prof.total_ms > 0.8


def test_the_table_names_every_row_and_adds_up():
    step, _ = gan_like_step("cpu")
    with profile() as prof:
        step()
    table = prof.table()
    lines = table.splitlines()
    assert lines[0].split() == ["op", "calls", "forward", "ms", "backward", "ms", "total", "ms",
                                "share"]
    for s in prof.key_averages():
        assert any(line.startswith(s.name + " ") for line in lines), s.name
    shares = [float(line.split()[-1].rstrip("%")) for line in lines[1:-2]]   # rows and outside
    assert sum(shares) == pytest.approx(100, abs=0.1 * len(shares))
    assert lines[-2].split()[0] == "total" and "host clock" in lines[-1]
    short = prof.table(row_limit=2).splitlines()
    assert "more ops" in short[3] and len(short) == 7


def test_profiling_changes_no_result():
    step, D = gan_like_step("cpu")
    plain = [step().item() for _ in range(3)]
    step, D = gan_like_step("cpu")
    with profile():
        profiled = [step().item() for _ in range(3)]
    assert plain == profiled


def test_profiles_do_not_nest_and_results_wait_for_the_end():
    with profile() as prof:
        with pytest.raises(RuntimeError, match="open already"):
            with profile():
                pass
        with pytest.raises(RuntimeError, match="when the with block ends"):
            prof.key_averages()
    assert profiler.active is None
    assert prof.key_averages() == []


def test_an_error_inside_closes_the_profile():
    with pytest.raises(ValueError):
        with profile():
            raise ValueError("boom")
    assert profiler.active is None


def test_second_derivatives_are_timed_as_the_gradient_ops_backward():
    x = minigan.randn(4, 3, dtype=minigan.float64, requires_grad=True)
    with profile() as prof:
        (gx,) = minigan.autograd.grad(F.leaky_relu(x, 0.2).pow(3).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
    rows = {s.name: s for s in prof.key_averages()}
    assert rows["LeakyReLUGrad"].backward_ms > 0 and rows["LeakyReLUGrad"].calls == 0


@profiler.timed_as("mover")
def slow_move(a):
    """A mover that takes 10 ms."""
    time.sleep(0.01)
    return a


@profiler.timed_as("product")
def slow_product(a):
    """A product that takes 20 ms and runs a mover: 30 ms of product work in all."""
    time.sleep(0.02)
    return slow_move(a) * 2


def test_tagged_work_counts_once_as_the_outermost_kind_and_only_on_its_thread():
    assert slow_product(3) == 6 and slow_product.__name__ == "slow_product"   # no profile
    with profile(use_cuda=False) as prof:
        assert slow_product(3) == 6
        other = threading.Thread(target=slow_move, args=(1,))   # a pool thread's work: untimed
        other.start()
        other.join()
    (row,) = prof.work_averages()
    assert (row.name, row.kind, row.phase, row.calls) == ("slow_product", "product", None, 1)
    assert 30 <= row.total_ms < 55
    assert prof.key_averages() == []   # tagged work is no op row
    with pytest.raises(RuntimeError, match="when the with block ends"):
        profile().work_averages()


def test_a_convs_products_and_movers_are_tagged_in_its_forward_and_backward():
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.standard_normal((4, 3, 8, 8)), requires_grad=True)
    W = minigan.tensor(rng.standard_normal((5, 3, 4, 4)), requires_grad=True)
    with profile(use_cuda=False) as prof:
        F.conv2d(x, W, stride=2, padding=1).sum().backward()
    work = {(w.name, w.phase): w for w in prof.work_averages()}
    # forward: im2col(x), the product; backward: gx's product and col2im, gW's product of
    # the cols the forward kept (conv2d saves them)
    assert {("im2col", "forward"), ("product", "forward"), ("col2im", "backward"),
            ("product", "backward")} <= set(work)
    assert work["product", "backward"].calls == 2 and ("im2col", "backward") not in work
    assert {w.kind for (name, _), w in work.items() if name == "product"} == {"product"}
    assert {w.kind for (name, _), w in work.items() if name != "product"} == {"mover"}
    conv = next(s for s in prof.key_averages() if s.name == "Conv2d")
    for phase, op_ms in (("forward", conv.forward_ms), ("backward", conv.backward_ms)):
        assert 0 < sum(w.total_ms for (_, p), w in work.items() if p == phase) <= op_ms


def test_on_the_gpu_the_convs_kernels_are_tagged_too(gpu):
    x = minigan.randn(2, 3, 6, 6, device=gpu, requires_grad=True)
    W = minigan.randn(4, 3, 3, 3, device=gpu, requires_grad=True)
    with profile() as prof:
        F.conv2d(x, W, padding=1).sum().backward()
    work = {w.name: w.kind for w in prof.work_averages()}
    assert work["product"] == "product"   # named as on the CPU
    assert work["im2col_cuda"] == work["col2im_cuda"] == "mover"
    assert all(np.isfinite(w.total_ms) for w in prof.work_averages())


def test_on_the_gpu_it_times_with_cuda_events_read_after_the_host_waits(gpu):
    step, _ = gan_like_step(gpu)
    with profile() as prof:
        step()
    assert prof.clock.name == "CUDA events"
    rows = {s.name: s for s in prof.key_averages()}
    assert rows["Linear"].calls == 2 and rows["BatchNorm"].backward_ms > 0
    assert np.isfinite(prof.total_ms) and prof.total_ms >= sum(s.total_ms for s in rows.values())
    assert "CUDA events" in prof.table()


def test_the_emulated_gpu_refuses_an_event_read_before_the_host_waits(gpu):
    cuda = minigan.backend.cupy.cuda
    start, end = cuda.Event(), cuda.Event()
    start.record()
    end.record()
    if gpu == "cuda" and cuda.runtime.getDeviceCount() and "double" not in str(
            cuda.runtime.getDeviceProperties(0)["name"]):
        pytest.skip("a real GPU may have finished already")
    with pytest.raises(RuntimeError, match="NotReady"):
        cuda.get_elapsed_time(start, end)
    end.synchronize()
    assert cuda.get_elapsed_time(start, end) >= 0


def test_use_cuda_without_a_gpu_says_why(monkeypatch):
    monkeypatch.setattr(minigan.backend, "cupy", None)
    assert profile().clock.name.startswith("the host clock")
    with pytest.raises(RuntimeError, match="CuPy is not installed"):
        profile(use_cuda=True)
