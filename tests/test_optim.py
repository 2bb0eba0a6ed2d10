"""Adam and SGD against hand-computed steps, Adam's fused kernel against its NumPy update on
every GPU, and state dicts that resume bit-exactly: every check of the optimizers."""
import numpy as np
import pytest

import minigan
from helpers import check_op
from minigan import nn
from minigan.optim import adam_update, adam_update_cuda


def textbook_adam(p, grads, lr, b1, b2, eps, wd=0.0):
    """Adam as written in the paper (bias-corrected moments), in float64."""
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_matches_textbook_steps(wd):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(5)]
    p = nn.Parameter(minigan.tensor(p0))
    opt = minigan.optim.Adam([p], lr=0.01, betas=(0.5, 0.999), eps=1e-8, weight_decay=wd)
    for g in grads:
        p.grad = minigan.tensor(g)
        opt.step()
    expected = textbook_adam(p0, grads, 0.01, 0.5, 0.999, 1e-8, wd)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert opt.state[p]["step"] == 5


def test_adam_on_the_gpu_counts_steps_on_the_device_and_resumes(gpu):
    # t lives on the device (one adam_count launch a step), so a captured step can replay
    # it; a parameter without a gradient takes no step, and the state dict holds ints
    rng = np.random.default_rng(1)
    p0, q0 = rng.normal(size=(3, 4)), rng.normal(size=5)
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]

    def run(device, steps, state=None):
        p, q = (nn.Parameter(minigan.tensor(a, device=device)) for a in (p0, q0))
        opt = minigan.optim.Adam([p, q], lr=0.01, betas=(0.5, 0.999))
        if state:
            opt.load_state_dict(state)
            p.data[...] = minigan.tensor(state["p"], device=device).data
        for i, g in enumerate(steps):
            p.grad = minigan.tensor(g, device=device)
            q.grad = minigan.tensor(np.ones(5), device=device) if i == 0 else None
            opt.step()
        return p, q, opt
    p, q, opt = run("cpu", grads)
    p_gpu, q_gpu, opt_gpu = run(gpu, grads)
    np.testing.assert_allclose(p_gpu.cpu().numpy(), p.numpy(), rtol=1e-12)
    assert opt_gpu.state_dict()["state"][0]["step"] == 4 and \
        opt_gpu.state_dict()["state"][1]["step"] == 1
    half = run(gpu, grads[:2])
    state = dict(half[2].state_dict(), p=half[0].cpu().numpy())
    resumed = run(gpu, grads[2:], state)
    np.testing.assert_array_equal(resumed[0].cpu().numpy(), p_gpu.cpu().numpy())
    assert resumed[2].state_dict()["state"][0]["step"] == 4


# ---- the fused update (kernels/adam.cu) against NumPy's (optim.adam_update) ----

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_kernel(gpu, dtype, weight_decay):
    rng, shape = np.random.default_rng(0), (300,)
    p0, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    m0, v0 = rng.standard_normal(shape).astype(dtype), rng.uniform(0, 1, shape).astype(dtype)
    args = (3, 1e-3, 0.5, 0.999, 1e-8, weight_decay)
    expected = [p0.copy(), g, m0.copy(), v0.copy()]
    adam_update(*expected, *args)
    got = [minigan.tensor(a, device=gpu) for a in (p0, g, m0, v0)]
    step = minigan.tensor(np.array([args[0]]), device=gpu).data   # t, read on the device
    adam_update_cuda(*[t.data for t in got], step, *args[1:])
    # NOTE: float32 within a few roundings (a GPU may fuse a multiply-add): the kernel takes
    # 1 - β₁, 1 - β₂ rounded from double, as NumPy does; computing them in float32 was 1.3e-5 off
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b.cpu().numpy(), a, rtol=rtol, atol=1e-9)


def test_the_fused_adam_reads_a_transposed_gradient(gpu):
    rng = np.random.default_rng(7)
    p, g = rng.standard_normal((4, 3)), rng.standard_normal((3, 4)).T
    expected = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    adam_update(expected[0], g, *expected[1:], 1, 1e-3, 0.9, 0.999, 1e-8, 0.0)
    got = [minigan.tensor(a, device=gpu) for a in (p, np.zeros_like(p), np.zeros_like(p))]
    g_dev = minigan.tensor(g.T, device=gpu).T   # a transposed view on the device
    step = minigan.tensor(np.array([1]), device=gpu).data
    adam_update_cuda(got[0].data, g_dev.data, got[1].data, got[2].data,
                     step, 1e-3, 0.9, 0.999, 1e-8, 0.0)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b.cpu().numpy(), a, rtol=1e-12)


def test_adam_with_a_transposed_gradient(gpu):
    # x @ W.T leaves W.grad as the transpose of a dense array
    def two_steps(x, W):
        W = nn.Parameter(W)
        opt = minigan.optim.Adam([W], lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            (x @ W.T).pow(2).sum().backward()
            assert W.grad.data.flags.c_contiguous
            opt.step()
        return W.detach()
    rng = np.random.default_rng(7)
    check_op(two_steps, rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), device=gpu,
             reference="cpu", requires_grad=[False, False], rtol=1e-5, atol=1e-6)


def test_adam_refuses_a_parameter_it_has_no_kernel_for(device):
    p = nn.Parameter(minigan.tensor(np.ones(3, np.float16), device=device))
    p.grad = minigan.tensor(np.ones(3, np.float16), device=device)
    with pytest.raises(TypeError, match="Adam: dtype float16 is not supported"):
        minigan.optim.Adam([p]).step()
    q = nn.Parameter(minigan.tensor(np.ones(3, np.float32), device=device))
    q.grad = minigan.tensor(np.ones(3, np.float64), device=device)
    with pytest.raises(TypeError, match="Adam: expected parameter, grad of one dtype"):
        minigan.optim.Adam([q]).step()


def test_adam_first_step_size_is_lr():
    # with bias correction the first step moves every coordinate by lr (up to eps)
    p = nn.Parameter(minigan.tensor([1.0, -2.0, 3.0], dtype=minigan.float64))
    p.grad = minigan.tensor([0.5, -7.0, 1e-3], dtype=minigan.float64)
    minigan.optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.numpy(), [0.9, -1.9, 2.9], rtol=1e-4)


def test_sgd_momentum_by_hand():
    p = nn.Parameter(minigan.tensor([1.0, 2.0], dtype=minigan.float64))
    opt = minigan.optim.SGD([p], lr=0.1, momentum=0.9)
    grads = [np.array([1.0, -1.0]), np.array([0.5, 0.5]), np.array([2.0, 0.0])]
    expected, buf = np.array([1.0, 2.0]), None
    for g in grads:
        p.grad = minigan.tensor(g)
        opt.step()
        buf = g.copy() if buf is None else 0.9 * buf + g
        expected = expected - 0.1 * buf
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-14)


def test_zero_grad_set_to_none_or_zero():
    p = nn.Parameter(minigan.ones(2))
    opt = minigan.optim.SGD([p], lr=0.1)
    p.grad = minigan.ones(2)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None


def _train(model, opt, batches):
    for x, y in batches:
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_save_load_continue_is_bit_exact(tmp_path):
    minigan.manual_seed(0)
    batches = [(minigan.randn(8, 3), minigan.randn(8, 1)) for _ in range(6)]

    def fresh():
        minigan.manual_seed(42)
        model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.LeakyReLU(0.2), nn.Linear(5, 1))
        return model, minigan.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.999))

    straight, opt = fresh()
    _train(straight, opt, batches)

    first, opt = fresh()
    _train(first, opt, batches[:3])
    minigan.save({"model": first.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck.npz")
    del first, opt
    resumed, opt = fresh()
    state = minigan.load(tmp_path / "ck.npz")
    resumed.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    _train(resumed, opt, batches[3:])

    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_optimizer_load_state_dict_rejects_other_model():
    a = nn.Linear(3, 2)
    opt = minigan.optim.Adam(a.parameters())
    other = minigan.optim.Adam(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)).parameters())
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the saved parameter groups do not match"):
        opt.load_state_dict(other.state_dict())
