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


def test_conv1d_shapes_init_and_repr():
    layer = nn.Conv1d(3, 8, 5, stride=2, padding=1, dilation=2)
    assert layer.W.shape == (8, 3, 5) and layer.b.shape == (8,)
    assert np.abs(layer.W.data).max() <= 1 / math.sqrt(15)
    assert layer(random_input((2, 3, 20))).shape == (2, 8, 7)
    assert layer(random_input((3, 20))).shape == (8, 7)  # unbatched, as in PyTorch
    assert repr(layer) == "Conv1d(3, 8, kernel_size=5, stride=2, pad=1, dilation=2)"


@pytest.mark.parametrize(
    ("kernel_size", "stride", "pad", "dilation", "bias"),
    [(3, 1, 0, 1, True), (3, 2, 1, 1, False), (4, 1, "same", 2, True), (2, 1, "same", 1, True),
     (5, 3, 2, 2, True), (3, 1, "valid", 3, True)],
)
def test_conv1d_matches_torch(kernel_size, stride, pad, dilation, bias):
    torch = torch_or_skip()
    layer = nn.Conv1d(3, 4, kernel_size, stride, pad, dilation, bias=bias)
    twin = torch.nn.Conv1d(3, 4, kernel_size, stride, pad, dilation, bias=bias)
    pairs = [(layer.W, twin.weight, same)] + ([(layer.b, twin.bias, same)] if bias else [])
    load_into_torch(pairs)
    x = cr.Variable(random_input((2, 3, 11)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs, atol=1e-4)
    assert_close(x.grad, t_x.grad, atol=1e-4)


def test_conv1d_gradients_of_order_two_with_dilation_and_same_padding():
    layer = nn.Conv1d(2, 3, 3, pad="same", dilation=2).double()
    x = np.random.default_rng(0).standard_normal((2, 2, 6))
    cr.gradcheck(layer, [x], order=2)
    cr.gradcheck(lambda w: _with_weight(layer, w, x), [layer.W.data.copy()], order=2)


def _with_weight(layer, w, x):
    """layer(x) with the Variable w read as its weight, so gradcheck can vary it."""
    saved = layer.W
    layer.__dict__["W"] = w  # forward reads the attribute; the registry keeps the Parameter
    try:
        return layer(x)
    finally:
        layer.__dict__["W"] = saved


@pytest.mark.parametrize(
    ("args", "message"),
    [((2, 2, 3), "expected input"), ((2, 2, 3, 2, "same"), "'same' needs stride 1")],
)
def test_conv1d_errors_name_the_layer(args, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv1d(*args)(random_input((2, 5, 7)))


@pytest.mark.parametrize("option", [{"groups": 2}, {"padding_mode": "reflect"}, {"pad": -1}])
def test_conv1d_refuses_what_it_does_not_support(option):
    with pytest.raises(ValueError, match="Conv1d"):
        nn.Conv1d(2, 2, 3, **option)


def test_conv1d_takes_pad_or_padding_but_not_two_different_values():
    assert nn.Conv1d(2, 2, 3, padding=2).pad == nn.Conv1d(2, 2, 3, pad=2).pad == (2, 2)
    with pytest.raises(TypeError, match="Conv1d: got pad=1 and padding=2"):
        nn.Conv1d(2, 2, 3, pad=1, padding=2)


@pytest.mark.parametrize(
    "options",
    [{"padding": 1, "dilation": 2}, {"padding": "same", "dilation": (1, 2)}, {"padding": "same"},
     {"padding": "valid", "dilation": 3}, {"padding": (1, 2), "stride": 2, "dilation": 2}],
)
def test_conv2d_dilation_and_same_padding_match_torch(options):
    torch = torch_or_skip()
    layer, twin = nn.Conv2d(3, 4, (3, 2), **options), torch.nn.Conv2d(3, 4, (3, 2), **options)
    pairs = [(layer.W, twin.weight, same), (layer.b, twin.bias, same)]
    load_into_torch(pairs)
    x = cr.Variable(random_input((2, 3, 9, 8)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs, atol=1e-4)
    assert_close(x.grad, t_x.grad, atol=1e-4)


def test_conv2d_same_padding_keeps_the_size_and_differentiates_twice():
    layer = nn.Conv2d(2, 3, (2, 3), padding="same", dilation=(2, 1)).double()
    assert repr(layer) == ("Conv2d(2, 3, kernel_size=(2, 3), stride=1, pad='same', "
                           "dilation=(2, 1))")
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 4))
    assert layer(x).shape == (1, 3, 5, 4)
    cr.gradcheck(layer, [x], order=2)
    with pytest.raises(ValueError, match="Conv2d: only groups=1"):
        nn.Conv2d(2, 2, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: padding='same' needs stride 1"):
        nn.Conv2d(2, 2, 3, stride=2, padding="same")
