"""The engine, minigan.grad and the grad modes; Tensor basics; bad input.
(detect_anomaly and gradcheck: tests/test_autograd_checks.py.)"""
import operator

import numpy as np
import pytest

import minigan
import minigan.functional as F
from helpers import NO_GPU
from minigan.autograd import Function

no_gpu_only = pytest.mark.skipif(minigan.gpu_available(), reason="a GPU is present")
gpu_only = pytest.mark.skipif(not minigan.gpu_available(), reason=NO_GPU)


def f64(values, requires_grad=True, device="cpu"):
    return minigan.tensor(np.asarray(values, dtype=np.float64), device=device,
                          requires_grad=requires_grad)


def assert_close(t, expected, **kw):
    np.testing.assert_allclose(t.cpu().numpy(), expected, **kw)


# ---- the engine ----
def test_backward_accumulates_into_grad(device):
    x = f64([1.0, 2.0], device=device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert_close(x.grad, [3 + 2, 3 + 4])



def test_a_second_gradient_is_added_into_grad_in_place(device):
    w = f64([1.0, 2.0], device=device)
    (w * 3).sum().backward()
    grad, memory = w.grad, w.grad.data
    (w * w).sum().backward()
    assert w.grad is grad and w.grad.data is memory      # as PyTorch: no new array
    assert_close(w.grad, [3 + 2, 3 + 4])


def test_in_place_accumulation_leaves_a_gradient_on_its_way_alone(device):
    # Add's backward hands one gy to a and to c; a's second gradient (from a * 3) may come
    # before c's backward has read gy: adding it into a.grad in place would change c's
    a = f64([0.5, -1.0], device=device)
    c = a.exp()
    ((a + c) + a * 3).sum().backward()
    xs = np.array([0.5, -1.0])
    assert_close(a.grad, 1 + np.exp(xs) + 3)
    b = f64([0.5, -1.0], device=device)
    d = b.exp()
    (b * 3 + (b + d)).sum().backward()                  # the other order of the two adds
    assert_close(b.grad, 1 + np.exp(xs) + 3)


def test_a_gradient_of_a_gradient_is_summed_out_of_place(device):
    # with create_graph the sum into .grad is itself differentiated: it is recorded
    x = f64([1.0, 2.0], device=device)
    (x * x).sum().backward(create_graph=True)
    (x * x * x).sum().backward(create_graph=True)        # .grad = 2x + 3x²
    assert x.grad.grad_fn is not None
    (gx,) = minigan.autograd.grad(x.grad.sum(), [x])
    assert_close(gx, 2 + 6 * np.array([1.0, 2.0]))

def test_shared_subexpression_is_differentiated_once(device):
    calls = []

    class Square(Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            calls.append(1)
            return gy * 2 * self.inputs[0]

    x = f64([0.5, -1.5, 2.0], device=device)
    y = Square()(x)
    z = y + y * y                  # dz/dx = (1 + 2y) · 2x = 2x + 4x³
    z.sum().backward()
    xs = np.array([0.5, -1.5, 2.0])
    assert_close(x.grad, 2 * xs + 4 * xs ** 3)
    assert len(calls) == 1         # y's backward waited for both of its consumers


def test_second_backward_raises_unless_graph_retained(device):
    x = f64([1.0, 2.0], device=device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()

    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, 2 * 2 * np.array([1.0, 2.0]) + 2 * np.array([1.0, 2.0]))


def test_gradient_argument_for_non_scalar_backward(device):
    x = f64([1.0, 2.0, 3.0], device=device)
    (x * x).backward(f64([1.0, 0.5, -1.0], requires_grad=False, device=device))
    assert_close(x.grad, [2.0, 2.0, -6.0])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * x).backward()


def test_leaf_grads_are_separate_writable_tensors(device):
    a, b = f64([1.0, 2.0], device=device), f64([3.0, 4.0], device=device)
    (a + b).sum().backward()            # both gradients are the same broadcast ones
    a.grad.zero_()                      # as an optimizer's zero_grad does
    assert_close(b.grad, [1.0, 1.0])
    b.grad.fill_(5.0)
    assert_close(a.grad, [0.0, 0.0])


# ---- minigan.grad ----
def test_grad_create_graph_gives_second_derivative(device):
    x = f64([0.5, -2.0], device=device)
    gx, = minigan.grad((x ** 3).sum(), x, create_graph=True)
    assert_close(gx, 3 * np.array([0.5, -2.0]) ** 2)
    assert gx.requires_grad
    ggx, = minigan.grad(gx.sum(), x)
    assert_close(ggx, 6 * np.array([0.5, -2.0]))


def test_grad_allow_unused(device):
    x, unused = f64([1.0], device=device), f64([2.0], device=device)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        minigan.grad(y, [x, unused], retain_graph=True)
    gx, gu = minigan.grad(y, [x, unused], allow_unused=True)
    assert_close(gx, [2.0])
    assert gu is None


def test_grad_of_non_leaf_inputs_and_grad_field_untouched(device):
    x = f64([1.0, -3.0], device=device)
    h = x * 3
    y = (h * h).sum()
    gh, gx = minigan.grad(y, [h, x])
    assert_close(gh, 2 * np.array([3.0, -9.0]))
    assert_close(gx, 18 * np.array([1.0, -3.0]))
    assert x.grad is None and h.grad is None


# ---- grad modes ----
def test_no_grad_and_enable_grad_as_context_managers(device):
    x = f64([1.0], device=device)
    with minigan.no_grad():
        y = x * 2
        assert not minigan.is_grad_enabled()
        with minigan.enable_grad():
            z = x * 2
    assert minigan.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_and_enable_grad_as_decorators(device):
    x = f64([1.0], device=device)

    @minigan.no_grad()
    def frozen(t):
        return t * 2

    @minigan.enable_grad()
    def recorded(t):
        return t * 2

    assert not frozen(x).requires_grad
    with minigan.no_grad():
        assert recorded(x).requires_grad
    assert frozen.__name__ == "frozen"


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with minigan.no_grad():
            1 / 0
    assert minigan.is_grad_enabled()


def test_set_grad_enabled(device):
    x = f64([1.0], device=device)
    with minigan.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert minigan.is_grad_enabled()
    minigan.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        minigan.set_grad_enabled(True)
    assert (x * 2).requires_grad


# ---- tensor basics ----
def test_creation_functions(device):
    t = minigan.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert t.dtype == minigan.float32 and t.shape == (2, 2) and t.device == device
    assert minigan.tensor([1, 2], device=device).dtype == minigan.int64
    assert minigan.tensor(np.zeros(2), device=device).dtype == minigan.float64
    assert minigan.tensor(3.5).shape == ()
    for z in (minigan.zeros(2, 3, device=device), minigan.zeros((2, 3), device=device)):
        assert z.shape == (2, 3) and z.dtype == minigan.float32 and z.device == device
        assert_close(z, np.zeros((2, 3)))
    assert_close(minigan.ones(3, device=device), np.ones(3))
    assert_close(minigan.full((2,), 7.5, device=device), [7.5, 7.5])
    assert_close(minigan.arange(4, device=device), [0, 1, 2, 3])
    assert minigan.arange(4).dtype == minigan.int64
    assert_close(minigan.arange(0, 1, 0.25, device=device), [0, 0.25, 0.5, 0.75])
    r = minigan.rand(100, device=device)
    assert r.dtype == minigan.float32 and 0 <= r.min().item() and r.max().item() < 1
    assert minigan.randn(2, 3, device=device).shape == (2, 3)

    base = minigan.ones(2, 3, dtype=minigan.float64, device=device)
    for like in (minigan.zeros_like(base), minigan.ones_like(base),
                 minigan.full_like(base, 2.0), minigan.rand_like(base), minigan.randn_like(base)):
        assert like.shape == (2, 3) and like.dtype == minigan.float64 and like.device == device
    assert_close(minigan.full_like(base, 2.0), np.full((2, 3), 2.0))


def test_manual_seed_reproduces_random_tensors(device):
    minigan.manual_seed(123)
    a, b = minigan.randn(5, device=device), minigan.rand(3, device=device)
    minigan.manual_seed(123)
    assert_close(minigan.randn(5, device=device), a.cpu().numpy())
    assert_close(minigan.rand(3, device=device), b.cpu().numpy())
    assert not np.array_equal(minigan.randn(5).numpy(), a.cpu().numpy())


def test_attributes(device):
    x = minigan.ones(2, 3, device=device, requires_grad=True)
    assert (x.shape, x.dtype, x.device, x.ndim) == ((2, 3), minigan.float32, device, 2)
    assert x.grad is None and x.requires_grad and x.is_leaf
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    c = minigan.ones(2, device=device)
    assert not c.requires_grad and c.is_leaf


def test_numpy_item_to_detach_clone():
    x = minigan.tensor([1.5, 2.5], requires_grad=True)
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), [1.5, 2.5])
    assert x.sum().item() == 4.0 and isinstance(x.sum().item(), float)
    with pytest.raises(ValueError, match="one-element"):
        x.item()

    d = x.to(minigan.float64)
    assert d.dtype == minigan.float64 and d.requires_grad
    assert x.to("cpu") is x
    d.sum().backward()                              # .to is differentiable, grad in x's dtype
    assert x.grad.dtype == minigan.float32
    assert_close(x.grad, [1.0, 1.0])

    det = x.detach()
    assert not det.requires_grad and det.grad_fn is None
    det.data[0] = 9.0                                 # detach shares the data, as in PyTorch
    assert x.numpy()[0] == 9.0

    x.grad = None
    c = x.clone()
    assert c.grad_fn is not None
    c.data[0] = -1.0                                  # clone copies
    assert x.numpy()[0] == 9.0
    (c * c).sum().backward()
    assert_close(x.grad, [-2.0, 5.0])


def test_float32_default_and_float64_end_to_end(device):
    assert minigan.get_default_dtype() == minigan.float32
    x32 = minigan.tensor([1.0, 2.0], device=device, requires_grad=True)
    assert (x32 * 2.5 + 1).dtype == minigan.float32
    x = f64([0.1, 0.2], device=device)
    y = F.sigmoid(x * 2.5 + 1).log().mean()
    assert y.dtype == minigan.float64
    y.backward()
    assert x.grad.dtype == minigan.float64


def test_repr_is_readable():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    text = repr(x * 2)
    assert "2., 4." in text and "grad_fn=<MulBackward>" in text
    assert "dtype=minigan.float64" in repr(minigan.zeros(1, dtype=minigan.float64))


# ---- bad input is named in the error ----
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "div": operator.truediv, "pow": operator.pow}


@pytest.mark.parametrize("name", BINARY)
def test_shape_mismatch_in_elementwise_ops(device, name):
    a, b = minigan.ones(2, 3, device=device), minigan.ones(4, device=device)
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\)"):
        BINARY[name](a, b)


def test_shape_mismatch_in_matmul_and_linear(device):
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        minigan.ones(2, 3, device=device) @ minigan.ones(4, 5, device=device)
    with pytest.raises(ValueError, match=r"linear.*\(2, 3\).*\(5, 4\)"):
        F.linear(minigan.ones(2, 3, device=device), minigan.ones(5, 4, device=device))


def test_wrong_dtypes(device):
    with pytest.raises(TypeError, match="floating point"):
        minigan.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        minigan.zeros(2, dtype=minigan.int64, device=device).requires_grad_()
    with pytest.raises(TypeError, match=r"matmul.*float32.*float64"):
        minigan.ones(2, 2, device=device) @ minigan.ones(2, 2, dtype=minigan.float64,
                                                         device=device)
    with pytest.raises(TypeError, match="tensor: unsupported dtype"):
        minigan.tensor(["a", "b"], device=device)


@pytest.mark.gpu
@gpu_only
def test_mixing_cpu_and_cuda_tensors_names_both():
    a, b = minigan.ones(2, device="cpu"), minigan.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"same device.*on cpu.*on cuda"):
        a + b


@no_gpu_only
def test_cuda_without_a_gpu_says_why():
    with pytest.raises(RuntimeError, match="CuPy|GPU"):
        minigan.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CuPy|GPU"):
        minigan.ones(2).to("cuda")
    assert not minigan.cuda.is_available()


def test_backward_returning_a_wrong_shape_raises():
    class WrongShape(minigan.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return minigan.ones(5, 4)             # x has shape (3, 4)

    x = minigan.randn(3, 4, requires_grad=True)
    with pytest.raises(ValueError, match=r"sum_to: shape \(5, 4\) does not broadcast from \(3, 4\)"):
        WrongShape()(x).sum().backward()
