import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import (
    assert_close,
    assert_same_grads,
    backward_both,
    load_into_torch,
    random_input,
    same,
    torch_or_skip,
)


def test_linear_shapes_and_default_init_bounds():
    layer = nn.Linear(50, 7)
    assert layer.W.shape == (50, 7) and layer.b.shape == (7,)
    assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
    bound = 1 / math.sqrt(50)
    assert np.abs(layer.W.data).max() <= bound and np.abs(layer.b.data).max() <= bound
    assert layer(random_input((4, 50))).shape == (4, 7)
    assert layer(random_input((2, 3, 50))).shape == (2, 3, 7)


def test_linear_without_bias_has_one_parameter():
    layer = nn.Linear(3, 2, bias=False)
    assert [n for n, _ in layer.named_parameters()] == ["W"] and layer.b is None


def test_linear_keeps_float64_when_asked():
    layer = nn.Linear(3, 2, dtype=np.float64)
    assert layer.W.dtype == np.float64
    assert layer(np.ones((1, 3))).dtype == np.float64


@pytest.mark.parametrize("args", [(0, 3), (3, -1), (2.5, 3)])
def test_linear_refuses_bad_sizes(args):
    with pytest.raises(ValueError, match="Linear: .* must be a positive integer"):
        nn.Linear(*args)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_with_transposed_weight(bias):
    torch = torch_or_skip()
    layer = nn.Linear(6, 4, bias=bias)
    twin = torch.nn.Linear(6, 4, bias=bias)
    pairs = [(layer.W, twin.weight, np.transpose)] + ([(layer.b, twin.bias, same)] if bias else [])
    load_into_torch(pairs)
    x = cr.Variable(random_input((5, 6)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs)
    assert_close(x.grad, t_x.grad)


def test_flatten_keeps_the_batch_axis():
    x = random_input((2, 3, 4, 5))
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    np.testing.assert_array_equal(y.data, x.reshape(2, 60))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"  # as PyTorch prints it


def test_flatten_between_dims_and_unflatten_undoes_it():
    x = random_input((2, 3, 4, 5))
    y = nn.Flatten(1, 2)(x)
    assert y.shape == (2, 12, 5)
    assert nn.Flatten(0, -1)(x).shape == (120,)
    back = nn.Unflatten(1, (3, 4))(y)
    np.testing.assert_array_equal(back.data, x)
    assert nn.Unflatten(-1, (5, -1))(y).shape == (2, 12, 5, 1)
    assert repr(nn.Unflatten(1, (3, 4))) == "Unflatten(dim=1, unflattened_size=(3, 4))"


def test_flatten_and_unflatten_refuse_bad_axes_and_sizes():
    with pytest.raises(ValueError, match="Flatten: start_dim 2 comes after end_dim 1"):
        nn.Flatten(2, 1)(random_input((2, 3, 4)))
    with pytest.raises(ValueError, match="Unflatten: dim 3 is out of range"):
        nn.Unflatten(3, (2, 2))(random_input((2, 4)))
    with pytest.raises(ValueError, match=r"Unflatten: axis 1 of input \(2, 4\) cannot be split"):
        nn.Unflatten(1, (3, 2))(random_input((2, 4)))


def test_flatten_and_unflatten_match_torch():
    torch = torch_or_skip()
    x = random_input((2, 3, 4, 5))
    assert_close(nn.Flatten(1, 2)(x), torch.nn.Flatten(1, 2)(torch.tensor(x)))
    assert_close(nn.Unflatten(2, (2, 2))(x), torch.nn.Unflatten(2, (2, 2))(torch.tensor(x)))


def test_identity_returns_its_input_and_ignores_arguments():
    x = cr.Variable(random_input((2, 3)))
    layer = nn.Identity(54, unused="x")
    assert layer(x) is x and list(layer.parameters()) == []
    model = nn.Sequential(nn.Linear(3, 3), nn.Identity())
    model(x).sum().backward()
    assert x.grad.shape == (2, 3)
