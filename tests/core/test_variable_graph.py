"""Variable as NumPy converts arrays, and the graph API PyTorch users expect."""

import numpy as np
import pytest

import chainrule as cr


def test_bool_float_and_int_of_one_element_work_as_on_numpy_arrays():
    assert bool(cr.Variable(np.array(2.0))) and not bool(cr.Variable(np.array([0.0])))
    assert float(cr.Variable(np.array(2.5, dtype=np.float32))) == 2.5
    assert int(cr.Variable(np.array(7.9))) == 7
    with pytest.raises(ValueError, match="ambiguous"):
        bool(cr.Variable(np.ones(3)))


def test_np_asarray_of_a_variable_gives_its_numbers_not_an_object_array():
    v = cr.Variable(np.array([[1.0, 2.0]], dtype=np.float32))
    a = np.asarray(v)
    assert a.dtype == np.float32 and a.shape == (1, 2)
    assert np.asarray(v, dtype=np.float64).dtype == np.float64
    assert np.array([cr.Variable(1.0), cr.Variable(2.0)]).dtype == np.float64


def test_ndarray_on_the_left_still_defers_to_the_variable():
    v = cr.Variable(np.array([1.0, 2.0]))
    for result in (np.ones(2) + v, np.ones(2) * v, np.ones(2) - v, np.ones(2) / v):
        assert isinstance(result, cr.Variable)
    with pytest.raises(TypeError):
        np.exp(v)  # ufuncs still refuse a Variable: F.exp records the graph


def test_variables_hash_by_identity():
    a, b = cr.Variable(np.array(1.0)), cr.Variable(np.array(1.0))
    assert len({a: 1, b: 2}) == 2 and hash(a) == object.__hash__(a)
