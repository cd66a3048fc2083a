import numpy as np
import pytest

import chainrule as cr


def test_variable_holds_data_grad_creator_and_name():
    x = cr.Variable(np.array([1.0, 2.0]), name="x")
    assert x.grad is None and x.creator is None and x.generation == 0
    assert x.shape == (2,) and x.ndim == 1 and x.numel() == 2 and len(x) == 2
    assert x.dtype == np.float64 and x.name == "x"


def test_variable_accepts_scalars_and_lists():
    assert cr.Variable(3.0).data.shape == ()
    assert cr.Variable([[1, 2], [3, 4]]).shape == (2, 2)


@pytest.mark.parametrize("bad", ["text", None, b"bytes"])
def test_variable_refuses_non_array_data_with_type_error(bad):
    with pytest.raises(TypeError, match="Variable"):
        cr.Variable(bad)


def test_variable_of_variable_is_refused():
    with pytest.raises(TypeError, match="already a Variable"):
        cr.Variable(cr.Variable(1.0))


def test_repr_is_readable():
    assert repr(cr.Variable(np.array([1.0, 2.0]))) == "variable([1., 2.])"
    assert "name='w'" in repr(cr.Variable(np.array(1.0), name="w"))


def test_operators_with_scalars_and_arrays_on_either_side():
    x = cr.Variable(np.array([1.0, 2.0]))
    a = np.array([10.0, 20.0])
    cases = [
        (x + 1, [2, 3]), (1 + x, [2, 3]), (x - 1, [0, 1]), (1 - x, [0, -1]),
        (x * 2, [2, 4]), (2 * x, [2, 4]), (x / 2, [0.5, 1]), (2 / x, [2, 1]),
        (x**2, [1, 4]), (2**x, [2, 4]), (-x, [-1, -2]), (+x, [1, 2]),
        (a + x, [11, 22]), (a * x, [10, 40]), (a - x, [9, 18]), (a / x, [10, 10]),
    ]
    for y, expected in cases:
        assert isinstance(y, cr.Variable)
        np.testing.assert_allclose(y.data, expected)


def test_numpy_array_on_the_left_does_not_take_over():
    x = cr.Variable(np.array([1.0, 2.0]))
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, cr.Variable)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


def test_matmul_operator_both_ways():
    w = cr.Variable(np.eye(2) * 3)
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose((v @ w).data, [3, 6])
    np.testing.assert_allclose((w @ v).data, [3, 6])


def test_indexing_transpose_reshape_and_sum():
    x = cr.Variable(np.arange(6.0).reshape(2, 3))
    assert x[1].shape == (3,) and x[:, 1:].shape == (2, 2)
    assert x.T.shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.sum().data == 15 and x.sum(axis=0, keepdims=True).shape == (1, 3)


def test_float32_graph_stays_float32_with_python_scalars():
    x = cr.Variable(np.ones(3, np.float32))
    y = (x * 2.0 + 1) / 3.0 - 0.5
    y = y**2
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_integer_array_times_float_promotes_like_numpy():
    x = cr.Variable(np.array([1, 2], dtype=np.int32), requires_grad=False)
    assert (x * 2).dtype == np.int32
    assert (x * 0.5).dtype == np.float64


def test_detach_and_unchain_cut_the_graph():
    x = cr.Variable(np.array(2.0))
    y = x * x
    assert y.detach().creator is None
    y.unchain()
    assert y.creator is None


def test_item_and_numpy():
    x = cr.Variable(np.array(2.5))
    assert x.item() == 2.5 and isinstance(x.numpy(), np.ndarray)
