import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import Parameter


def test_parameter_is_a_float32_variable_that_requires_grad():
    p = Parameter(np.zeros((2, 3)))
    assert isinstance(p, cr.Variable)
    assert p.dtype == np.float32 and p.requires_grad and p.grad is None


@pytest.mark.parametrize("data", [[1, 2, 3], np.arange(3), np.array([True, False]), 2.5])
def test_integers_lists_and_scalars_become_float32(data):
    assert Parameter(data).dtype == np.float32


def test_explicit_dtype_is_kept():
    assert Parameter(np.zeros(2), dtype=np.float64).dtype == np.float64
    assert Parameter(np.zeros(2, np.float16)).dtype == np.float16


def test_float32_array_is_shared_not_copied():
    array = np.ones(3, np.float32)
    assert Parameter(array)._data is array and np.shares_memory(Parameter(array).data, array)


def test_parameter_of_a_variable_takes_its_data():
    p = Parameter(cr.Variable(np.ones(2)))
    assert type(p) is Parameter and p.dtype == np.float32


def test_parameter_can_be_frozen():
    assert not Parameter(np.ones(2), requires_grad=False).requires_grad


def test_operations_on_parameters_give_plain_variables_and_grads():
    p = Parameter(np.array([1.0, 2.0]))
    y = (p * p).sum()
    assert type(y) is cr.Variable
    y.backward()
    np.testing.assert_allclose(p.grad.data, [2.0, 4.0])
    assert p.grad.dtype == np.float32


def test_repr_says_parameter():
    assert repr(Parameter(np.array([1.0, 2.0]))) == "Parameter([1., 2.])"
    assert repr(Parameter(np.zeros(1), dtype=np.float64)) == "Parameter([0.], dtype=float64)"
    assert "name='W'" in repr(Parameter(np.zeros(1), name="W"))
