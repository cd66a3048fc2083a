"""Core operations at the edges (0, -0.0, inf, NaN): gradients as torch gives them, never NaN
where torch has a number."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from harness import compare_with_torch

EDGES = np.array([0.0, -0.0, 1.0, -2.0, 0.5, np.inf, -np.inf, np.nan])


def test_x_to_the_zero_has_slope_zero_at_zero():
    x = cr.Variable(np.array([0.0, -0.0, 3.0]))
    (x**0).backward(np.array([1.0, np.inf, np.nan]))
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])


def test_zero_base_to_a_positive_variable_exponent_has_exponent_slope_zero():
    base, exponent = cr.Variable(np.array(0.0)), cr.Variable(np.array(2.0))
    (base**exponent).backward()
    assert base.grad.data == 0.0 and exponent.grad.data == 0.0


def test_edges_of_pow_leave_no_numpy_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base, exponent = cr.Variable(np.array([0.0, 0.0])), cr.Variable(np.array([0.0, 2.0]))
        (base**exponent).backward()
    np.testing.assert_array_equal(exponent.grad.data, [0.0, 0.0])


@pytest.mark.parametrize("c", [0, 0.0, 1, 2, -1, 3, 0.5, 1.5, -0.5])
def test_pow_scalar_at_edge_values_matches_torch(c):
    pytest.importorskip("torch")
    # torch computes x ** (c - 1) = x ** -0.5 as 1 / sqrt(x): its slope at -0.0 and -inf
    # differs from IEEE pow's; real powers of negative numbers are NaN on both sides anyway.
    edges = EDGES if float(c).is_integer() else np.abs(EDGES)
    with np.errstate(all="ignore"):
        compare_with_torch(lambda x: x**c, lambda x: x**c, [edges])


def test_pow_at_every_pair_of_edge_values_matches_torch():
    pytest.importorskip("torch")
    base = np.repeat(EDGES, EDGES.size)
    exponent = np.tile(EDGES, EDGES.size)
    with np.errstate(all="ignore"):
        compare_with_torch(lambda a, b: a**b, lambda a, b: a**b, [base, exponent])
        compare_with_torch(lambda b: 0.0**b, lambda b: 0.0**b, [exponent])


def test_pow_edges_still_differentiate_twice():
    x = cr.Variable(np.array([0.0, 1.5]))
    e = cr.Variable(np.array([0.0, 2.0]))
    (gx, ge) = cr.grad(x**e, [x, e], create_graph=True)
    np.testing.assert_allclose(gx.data, [0.0, 3.0])
    (ggx,) = cr.grad(gx.sum(), [x])
    np.testing.assert_allclose(ggx.data, [0.0, 2.0])
