import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import assert_close, backward_both, random_input, torch_or_skip


def test_pooling_stride_defaults_to_kernel_size():
    x = random_input((2, 3, 8, 6))
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 3)
    assert nn.AvgPool2d(2, stride=1)(x).shape == (2, 3, 7, 5)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, pad=0)"


def test_max_pool_takes_each_window_maximum():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data, [[[[2.5, 4.5], [10.5, 12.5]]]])


@pytest.mark.parametrize(("kernel_size", "stride", "pad"), [(2, None, 0), (3, 2, 1)])
@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
def test_pooling_matches_torch(kind, kernel_size, stride, pad):
    torch = torch_or_skip()
    layer = getattr(nn, kind)(kernel_size, stride, pad)
    options = {"count_include_pad": True} if kind == "AvgPool2d" else {}
    twin = getattr(torch.nn, kind)(kernel_size, stride, padding=pad, **options)
    x = cr.Variable(random_input((2, 3, 7, 8)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_close(x.grad, t_x.grad)


def test_adaptive_avg_pool_averages_each_bin():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d(2)(x).data, [[[[2.5, 4.5], [10.5, 12.5]]]])
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d(1)(x).data, [[[[7.5]]]])
    # 3 bins over 4 rows overlap: [0, 2), [1, 3), [2, 4)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((3, None))(x).data[0, 0, :, 0], [2, 6, 10])
    assert nn.AdaptiveAvgPool2d((2, 3))(random_input((3, 5, 7))).shape == (3, 2, 3)
    assert repr(nn.AdaptiveAvgPool2d(2)) == "AdaptiveAvgPool2d(output_size=(2, 2))"


@pytest.mark.parametrize("output_size", [1, 2, (3, 4), (5, None), (7, 6)])
def test_adaptive_avg_pool_matches_torch(output_size):
    torch = torch_or_skip()
    layer, twin = nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size)
    x = cr.Variable(random_input((2, 3, 7, 6)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_close(x.grad, t_x.grad)


def test_adaptive_avg_pool_gradients_of_order_two():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 4))
    cr.gradcheck(nn.AdaptiveAvgPool2d((3, 2)), [x], order=2)
    cr.gradcheck(nn.AdaptiveAvgPool2d(1), [x], order=2)


@pytest.mark.parametrize("output_size", [0, (2, 2, 2), "2"])
def test_adaptive_avg_pool_refuses_bad_sizes(output_size):
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size"):
        nn.AdaptiveAvgPool2d(output_size)


@pytest.mark.parametrize(("kind", "args"), [("MaxPool1d", (2,)), ("MaxPool1d", (3, 2, 1)),
                                            ("AvgPool1d", (2,)), ("AvgPool1d", (3, 2, 1)),
                                            ("AdaptiveAvgPool1d", (3,))])
def test_one_dimensional_pools_match_torch(kind, args):
    torch = torch_or_skip()
    layer, twin = getattr(nn, kind)(*args), getattr(torch.nn, kind)(*args)
    x = cr.Variable(random_input((2, 3, 9)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_close(x.grad, t_x.grad)
    assert_close(layer(x.data[0]), twin(t_x[0]))  # unbatched (C, L)


def test_one_dimensional_pools_take_each_window_and_refuse_images():
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    np.testing.assert_array_equal(nn.MaxPool1d(2)(x).data, [[[1, 3, 5]]])
    np.testing.assert_allclose(nn.AvgPool1d(3, padding=1, stride=3)(x).data, [[[1 / 3, 3]]])
    np.testing.assert_array_equal(nn.AdaptiveAvgPool1d(1)(x).data, [[[2.5]]])
    assert repr(nn.AdaptiveAvgPool1d(4)) == "AdaptiveAvgPool1d(output_size=4)"
    with pytest.raises(ValueError, match=r"MaxPool1d: expected input \(N, C, L\)"):
        nn.MaxPool1d(2)(random_input((1, 1, 4, 4)))
