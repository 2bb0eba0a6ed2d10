"""nn.Module, layers and init: registration, state dicts, modes, BatchNorm statistics."""
import numpy as np
import pytest

import minigan
from minigan import nn


def test_registration_names_and_repr():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert [n for n, _ in model.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert len(list(model.children())) == 3 and len(list(model.modules())) == 4
    assert all(p.requires_grad and p.is_leaf for p in model.parameters())
    text = repr(model)
    assert "(0): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(2): LeakyReLU(negative_slope=0.2)" in text


def test_linear_default_init_bounds_and_forward():
    minigan.manual_seed(0)
    layer = nn.Linear(50, 20)
    bound = 1 / np.sqrt(50)
    assert np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.bias.numpy()).max() <= bound
    assert layer.weight.numpy().std() > bound / 3      # really drawn, not zeros
    x = minigan.randn(7, 50)
    expected = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_zero_grad_and_train_eval():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(minigan.randn(4, 3)).sum().backward()
    assert model[0].weight.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    assert not model.training and not model[1].training
    model.train()
    assert model[1].training


@pytest.mark.parametrize("layer,shape", [(nn.BatchNorm1d, (8, 3)), (nn.BatchNorm2d, (4, 3, 5, 2))])
def test_batchnorm_running_statistics_by_hand(layer, shape):
    bn = layer(3, momentum=0.1)
    rng = np.random.default_rng(0)
    axes = (0,) + tuple(range(2, len(shape)))
    per_channel = (1, 3) + (1,) * (len(shape) - 2)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(4):
        x = rng.normal(2.0, 3.0, size=shape).astype(np.float32)
        y = bn(minigan.tensor(x)).numpy()
        np.testing.assert_allclose(y.mean(axes), 0, atol=1e-5)
        np.testing.assert_allclose(y.var(axes), 1, atol=1e-3)
        mean = 0.9 * mean + 0.1 * x.mean(axes)
        var = 0.9 * var + 0.1 * x.var(axes, ddof=1)       # running variance is unbiased
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 4
    bn.eval()
    x = rng.normal(size=shape).astype(np.float32)
    expected = (x - mean.reshape(per_channel)) / np.sqrt(var.reshape(per_channel) + bn.eps)
    np.testing.assert_allclose(bn(minigan.tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_eps_is_second_argument_and_bad_input():
    assert nn.BatchNorm1d(4, 0.8).eps == 0.8
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input, got shape \(2, 3, 4, 5\)"):
        nn.BatchNorm1d(3)(minigan.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        nn.BatchNorm1d(3)(minigan.randn(1, 3))


def test_state_dict_round_trip_and_strict_checks():
    a = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    a(minigan.randn(6, 3))                       # move the running statistics
    b = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    b.load_state_dict(a.state_dict())
    for (na, ta), (nb, tb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb
        np.testing.assert_array_equal(ta.numpy(), tb.numpy())

    state = a.state_dict()
    del state["1.running_var"]
    state["extra.weight"] = minigan.zeros(1)
    with pytest.raises(RuntimeError, match=r"missing keys \['1.running_var'\]; unexpected keys \['extra.weight'\]"):
        b.load_state_dict(state)
    result = b.load_state_dict(state, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["extra.weight"]

    wrong = a.state_dict()
    wrong["0.weight"] = minigan.zeros(5, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: checkpoint has shape \(5, 3\), the model has \(4, 3\)"):
        b.load_state_dict(wrong)


def test_init_functions():
    minigan.manual_seed(1)
    w = minigan.zeros(200, 100)
    nn.init.normal_(w, 1.0, 0.02)
    assert abs(w.numpy().mean() - 1.0) < 0.01 and abs(w.numpy().std() - 0.02) < 0.002
    nn.init.uniform_(w, -2, 3)
    assert w.numpy().min() >= -2 and w.numpy().max() < 3 and w.numpy().std() > 1
    nn.init.kaiming_uniform_(w, a=0.0, nonlinearity="relu")
    bound = np.sqrt(2.0) * np.sqrt(3.0 / 100)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.9 * bound
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()


def test_module_to_double_keeps_parameters_registered():
    model = nn.Linear(3, 2).double()
    assert model.weight.dtype == minigan.float64
    out = model(minigan.randn(4, 3, dtype=minigan.float64))
    assert out.dtype == minigan.float64
    out.sum().backward()
    assert model.weight.grad.dtype == minigan.float64


def test_activation_and_flatten_modules():
    x = minigan.tensor([[-2.0, 0.5]])
    np.testing.assert_allclose(nn.LeakyReLU()(x).numpy(), [[-0.02, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(nn.ReLU()(x).numpy(), [[0.0, 0.5]])
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh([[-2.0, 0.5]]), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp([[2.0, -0.5]])), rtol=1e-6)
    assert nn.Flatten()(minigan.zeros(2, 3, 4)).shape == (2, 12)
    assert nn.Identity()(x) is x


@pytest.mark.parametrize("layer,weight_shape", [(nn.Conv2d, (6, 2, 3, 3)),
                                                (nn.ConvTranspose2d, (4, 3, 3, 3))])
def test_conv_layers_shapes_init_and_bad_groups(layer, weight_shape):
    minigan.manual_seed(0)
    conv = layer(4, 6, 3, groups=2)
    assert conv.weight.shape == weight_shape and conv.bias.shape == (6,)
    bound = 1 / np.sqrt(weight_shape[1] * 9)            # PyTorch: fan_in from weight dim 1
    assert np.abs(conv.weight.numpy()).max() <= bound
    assert np.abs(conv.weight.numpy()).max() > 0.8 * bound
    with pytest.raises(ValueError, match=rf"{layer.__name__}: in_channels 3 and out_channels 6 "
                                         r"must be divisible by groups 2"):
        layer(3, 6, 3, groups=2)
