"""The tools that catch a wrong op: detect_anomaly names the op that made a NaN or an Inf;
gradcheck and gradgradcheck reject a wrong backward, or one that is not differentiable."""
import inspect

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import Tensor
from minigan.autograd import Function, detect_anomaly, gradcheck, gradgradcheck
from minigan.autograd import grad_mode
from minigan.autograd.gradcheck import GradcheckError


def f64(values, requires_grad=True, device="cpu"):
    return minigan.tensor(np.asarray(values, dtype=np.float64), device=device,
                          requires_grad=requires_grad)


def next_line():
    """The caller's file and next line, as detect_anomaly reports the line that made an op."""
    frame = inspect.currentframe().f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno + 1}"


# ---- detect_anomaly ----
def test_detect_anomaly_names_the_op_in_forward(device):
    x = f64([[1.0, -1.0, 2.0]], device=device)
    with detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError) as info:
            where = next_line()
            minigan.log(x)
    message = str(info.value)
    assert "Log" in message and "forward" in message and "NaN" in message
    assert "(1, 3)" in message and where in message


def test_detect_anomaly_names_the_op_in_backward(device):
    x = f64([0.0, 4.0], device=device)
    with detect_anomaly(), np.errstate(divide="ignore"):
        where = next_line()
        y = minigan.sqrt(x)            # d√x/dx = 1 / (2√x) is Inf at 0
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "Sqrt" in message and "backward" in message and "Inf" in message
    assert "(2,)" in message and where in message


def test_detect_anomaly_is_off_by_default(device):
    x = f64([-1.0], device=device)
    with np.errstate(invalid="ignore"):
        assert np.isnan(minigan.log(x).item())


# ---- gradcheck catches wrong backwards ----
class ScaleByThree(Function):
    """y = 3x, with a backward off by 10% when ``wrong``."""

    def __init__(self, wrong):
        self.wrong = wrong

    def forward(self, x):
        return 3 * x

    def backward(self, gy):
        return gy * (3.3 if self.wrong else 3.0)


class CubeWithConstantBackward(Function):
    """y = x³. gx = gy · 3x² is right, but 3x² is a constant array, so gx does not
    depend on x in the graph and its own derivative (6x) comes out as 0."""

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, gy):
        return gy * Tensor(3 * self.x ** 2)


class ScaleByThreeOffWhenRecorded(Function):
    """y = 3x, whose backward is 1% off only when it is recorded (create_graph=True): what an
    op that builds its differentiable gradient by separate code can get wrong."""

    def forward(self, x):
        return 3 * x

    def backward(self, gy):
        return gy * (3.03 if grad_mode.is_grad_enabled() else 3.0)


def test_gradgradcheck_checks_the_recorded_gradient_against_finite_differences():
    x = f64(np.random.default_rng(0).standard_normal((2, 3)))
    fn = lambda x: ScaleByThreeOffWhenRecorded()(x) ** 2   # noqa: E731
    assert gradcheck(fn, x)                      # the plain backward is right
    with pytest.raises(GradcheckError, match="wrong gradient for input 0"):
        gradgradcheck(fn, x)                     # the recorded one is not


def _off_by_one_percent(backward):
    def wrong(self, *ggs):
        return tuple(None if g is None else g * 1.01 for g in backward(self, *ggs))
    return wrong


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm", "bce_with_logits"])
def test_gradgradcheck_rejects_a_one_percent_error_in_a_gradient_ops_backward(monkeypatch, op):
    """The second derivatives of the kernel-backed ops live in their gradient ops' backward;
    1% off there must fail, not just pass as consistent with itself."""
    from minigan.ops import loss, normalization
    rng = np.random.default_rng(0)
    x = f64(rng.standard_normal((4, 3)))
    w, b = f64(rng.uniform(0.5, 2, 3)), f64(rng.standard_normal(3))
    t = f64(rng.uniform(0, 1, (4, 3)))
    fn, inputs, node = {
        "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                       (x, w, b), normalization.BatchNormGrad),
        "layer_norm": (lambda x, w, b: F.layer_norm(x, 3, w, b), (x, w, b),
                       normalization.LayerNormGrad),
        "bce_with_logits": (lambda x, t: F.binary_cross_entropy_with_logits(x, t), (x, t),
                            loss.BCEWithLogitsGrad),
    }[op]
    assert gradgradcheck(fn, inputs)
    monkeypatch.setattr(node, "backward", _off_by_one_percent(node.backward))
    with pytest.raises(GradcheckError):
        gradgradcheck(fn, inputs)


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm"])
def test_a_penalty_on_the_bias_gradient_alone(op):
    """Only gβ = Σ gy is differentiated again: its gradient in gy has gy's shape (all ones)."""
    rng = np.random.default_rng(0)
    x, w = f64(rng.standard_normal((4, 3, 2))), f64(rng.standard_normal((4, 3, 2)))
    b = f64(rng.standard_normal(3 if op == "batch_norm" else (3, 2)))
    y = (F.batch_norm(x, None, None, None, b, training=True) if op == "batch_norm"
         else F.layer_norm(x, (3, 2), None, b))
    gb, = minigan.grad((y * w).sum(), [b], create_graph=True)
    gw, = minigan.grad(gb.sum(), [w])
    np.testing.assert_array_equal(gw.numpy(), np.ones((4, 3, 2)))


def test_gradcheck_rejects_a_wrong_backward():
    x = f64(np.random.default_rng(0).standard_normal((2, 3)))
    assert gradcheck(lambda x: ScaleByThree(wrong=False)(x), x)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\) at index \(\d, \d\)"):
        gradcheck(lambda x: ScaleByThree(wrong=True)(x), x)
    assert gradcheck(lambda x: ScaleByThree(wrong=True)(x), x, raise_exception=False) is False


def test_gradgradcheck_rejects_a_backward_that_is_not_differentiable():
    x = f64(np.random.default_rng(0).standard_normal((2, 3)))
    assert gradcheck(lambda x: CubeWithConstantBackward()(x), x)
    assert gradgradcheck(lambda x: x ** 3, x)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\) at index"):
        gradgradcheck(lambda x: CubeWithConstantBackward()(x), x)


def test_gradcheck_random_directions_catch_a_wrong_backward_on_a_big_input():
    x = f64(np.random.default_rng(0).standard_normal((20, 20)))   # 400 > full_limit elements
    assert gradcheck(lambda x: ScaleByThree(wrong=False)(x), x, full_limit=256)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(20, 20\)\) along random"):
        gradcheck(lambda x: ScaleByThree(wrong=True)(x), x, full_limit=256)
