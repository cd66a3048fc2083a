"""A float64 0-d Variable and a Python number (``y * 0.9999 + 0.0001``) compute on Python
floats: the same bits and the same warnings as NumPy's arithmetic, whatever the values."""

import operator
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import chainrule as cr

OPERATIONS = {
    "add": (lambda v, c: v + c, operator.add),
    "sub": (lambda v, c: v - c, operator.sub),
    "rsub": (lambda v, c: c - v, lambda x, c: c - x),
    "mul": (lambda v, c: v * c, operator.mul),
    "rmul": (lambda v, c: c * v, lambda x, c: c * x),
}
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
NUMBERS = st.one_of(FLOATS, st.integers(-(2**70), 2**70))


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and (
        np.array_equal(a, b, equal_nan=True) and np.signbit(a) == np.signbit(b))


@pytest.mark.parametrize("name", OPERATIONS)
@given(x=FLOATS, c=NUMBERS)
@example(x=0.0, c=float("nan"))  # x - nan is nan, as NumPy's, not x + (-nan) = -nan
def test_value_and_gradient_equal_numpy_bit_for_bit(name, x, c):
    ours, theirs = OPERATIONS[name]
    v = cr.Variable(np.array(x))
    with np.errstate(all="ignore"):
        y = ours(v, c)
        expected = theirs(np.array(x), c)
        assert isinstance(y.data, np.ndarray) and same_bits(y.data, expected)
        y.backward(np.array(0.75))
        seed = np.array(0.75)
        expected_grad = {"rsub": -seed, "mul": seed * c, "rmul": seed * c}.get(name, seed)
        assert same_bits(v.grad.data, expected_grad)


@pytest.mark.parametrize(("x", "op"), [(1e308, lambda v: v * 10.0), (1e308, lambda v: v + 1e308),
                                       (np.inf, lambda v: v - np.inf), (np.inf, lambda v: 0 * v)])
def test_overflow_and_inf_minus_inf_warn_as_numpy_does(x, op):
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        op(cr.Variable(np.array(x)))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        op(np.array(x))
    assert [w.category for w in ours] == [w.category for w in theirs] != []


def test_other_dtypes_and_shapes_keep_numpy_arithmetic():
    half = cr.Variable(np.array(1.1, dtype=np.float32)) * 0.3
    assert half.dtype == np.float32 and half.data == np.float32(1.1) * np.float32(0.3)
    row = cr.Variable(np.array([1.0, 2.0])) + 1
    np.testing.assert_array_equal(row.data, [2.0, 3.0])
    with pytest.raises(OverflowError):
        cr.Variable(np.array(1.0)) * 10**400  # as NumPy: no float holds it
