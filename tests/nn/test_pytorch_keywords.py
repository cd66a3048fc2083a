"""nn layers take PyTorch's keyword names: padding, dim, negative_slope, start_dim."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from harness import random_array


def test_conv2d_with_padding_keeps_the_image_size():
    conv = nn.Conv2d(1, 16, 3, padding=1)
    assert conv.pad == 1
    assert conv(random_array(0, (2, 1, 8, 8))).shape == (2, 16, 8, 8)
    assert nn.ConvTranspose2d(in_channels=4, out_channels=2, kernel_size=3, stride=2,
                              padding=1).pad == 1


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_pools_take_padding(pool):
    x = random_array(1, (1, 2, 5, 5))
    a, b = pool(3, 2, pad=1)(x), pool(kernel_size=3, stride=2, padding=1)(x)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.shape == (1, 2, 3, 3)


def test_conflicting_padding_names_the_layer():
    with pytest.raises(TypeError, match=r"Conv2d: got pad=1 and padding=2"):
        nn.Conv2d(1, 2, 3, pad=1, padding=2)
    with pytest.raises(TypeError, match=r"Conv1d: got pad=1 and padding='same'"):
        nn.Conv1d(1, 2, 3, pad=1, padding="same")
    assert nn.Conv1d(1, 2, 3, padding=1).pad == nn.Conv1d(1, 2, 3, pad=1).pad


def test_linear_takes_pytorchs_keywords():
    layer = nn.Linear(in_features=3, out_features=2, bias=False)
    assert layer.b is None and layer.W.shape == (3, 2)


def test_softmax_leaky_relu_and_flatten_take_pytorchs_keywords():
    x = cr.Variable(random_array(2, (2, 3, 4)))
    np.testing.assert_array_equal(nn.Softmax(dim=1)(x).data, nn.Softmax(1)(x).data)
    np.testing.assert_array_equal(nn.LeakyReLU(negative_slope=0.2)(x).data,
                                  nn.LeakyReLU(0.2)(x).data)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(start_dim=0, end_dim=1)(x).shape == (6, 4)
