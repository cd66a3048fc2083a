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


def test_conv2d_parameter_shapes_output_shape_and_init_bound():
    layer = nn.Conv2d(3, 8, 3, stride=2, pad=1)
    assert layer.W.shape == (8, 3, 3, 3) and layer.b.shape == (8,)
    assert np.abs(layer.W.data).max() <= 1 / math.sqrt(27)
    assert layer(random_input((2, 3, 9, 9))).shape == (2, 8, 5, 5)
    assert repr(layer) == "Conv2d(3, 8, kernel_size=(3, 3), stride=2, pad=1)"


def test_conv2d_rectangular_kernel_without_bias():
    layer = nn.Conv2d(2, 4, (3, 1), bias=False)
    assert layer.W.shape == (4, 2, 3, 1) and layer.b is None
    assert [n for n, _ in layer.named_parameters()] == ["W"]
    assert layer(random_input((1, 2, 5, 5))).shape == (1, 4, 3, 5)


@pytest.mark.parametrize("kernel_size", [0, (3,), (2, -1)])
def test_conv2d_refuses_bad_kernel_sizes(kernel_size):
    with pytest.raises(ValueError, match="Conv2d: kernel_size"):
        nn.Conv2d(1, 1, kernel_size)


@pytest.mark.parametrize(("stride", "pad", "bias"), [(1, 0, True), (2, 1, True), (1, 2, False)])
def test_conv2d_matches_torch(stride, pad, bias):
    torch = torch_or_skip()
    layer = nn.Conv2d(3, 5, 3, stride=stride, pad=pad, bias=bias)
    twin = torch.nn.Conv2d(3, 5, 3, stride=stride, padding=pad, bias=bias)
    pairs = [(layer.W, twin.weight, same)] + ([(layer.b, twin.bias, same)] if bias else [])
    load_into_torch(pairs)
    x = cr.Variable(random_input((2, 3, 7, 6)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs, atol=1e-4)
    assert_close(x.grad, t_x.grad, atol=1e-4)


def test_conv_transpose2d_shapes():
    layer = nn.ConvTranspose2d(4, 2, 3, stride=2, pad=1)
    assert layer.W.shape == (4, 2, 3, 3) and layer.b.shape == (2,)
    assert layer(random_input((1, 4, 5, 5))).shape == (1, 2, 9, 9)


def test_conv_transpose2d_matches_torch():
    torch = torch_or_skip()
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, pad=1)
    twin = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    pairs = [(layer.W, twin.weight, same), (layer.b, twin.bias, same)]
    load_into_torch(pairs)
    x = cr.Variable(random_input((2, 3, 4, 5)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs, atol=1e-4)
    assert_close(x.grad, t_x.grad, atol=1e-4)
