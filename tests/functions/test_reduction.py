"""Reductions: every axis choice, ties split evenly as torch.amax, logsumexp stable."""

import numpy as np
import pytest
from hypothesis import given, settings

import chainrule as cr
import chainrule.functions as F
from harness import check_op, compare_with_torch, random_array, seeds, shapes, torch


def axis_choices(ndim):
    return [None, 0, -1, tuple(range(ndim))] if ndim else [None]


def distinct(seed, shape):
    """Values at least 0.1 apart, so max and min have no ties to split."""
    size = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(size) * 0.1 - size * 0.05
    return values.reshape(shape)


def check_every_axis(fn, reference, torch_name, x):
    """check_op over every axis choice, with and without keepdims."""
    for axis in axis_choices(x.ndim):
        for keepdims in (False, True):
            check_reduction(fn, reference, torch_name, x, axis, keepdims)


def check_reduction(fn, reference, torch_name, x, axis, keepdims):
    dim = tuple(range(x.ndim)) if axis is None else axis
    check_op(lambda a: fn(a, axis, keepdims), [x],
             lambda a: reference(a, axis=axis, keepdims=keepdims),
             torch_fn=lambda a: getattr(torch, torch_name)(a, dim=dim, keepdim=keepdims))


@given(shape=shapes(), seed=seeds)
def test_sum_and_mean_over_every_axis_choice(shape, seed):
    x = random_array(seed, shape)
    check_every_axis(F.sum, np.sum, "sum", x)
    check_every_axis(F.mean, np.mean, "mean", x)


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes(), seed=seeds)
def test_max_and_min_without_ties(name, shape, seed):
    x = distinct(seed, shape)
    check_every_axis(getattr(F, name), getattr(np, name), "a" + name, x)


def test_max_and_min_split_the_gradient_evenly_among_ties():
    x = cr.Variable(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    F.max(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.cleargrad()
    F.min(x).backward()
    np.testing.assert_allclose(x.grad.data, [[1, 0, 0], [0, 0, 0]])
    x.cleargrad()
    F.max(x).backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [0, 0, 0]])


def test_tie_split_matches_torch_amax():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [5.0, 5.0, 5.0, 1.0]])
    compare_with_torch(lambda a: F.max(a, axis=1), lambda a: torch.amax(a, dim=1), [x])
    compare_with_torch(lambda a: F.min(-a), lambda a: torch.amin(-a), [x])


@given(shape=shapes(), seed=seeds)
def test_logsumexp_over_every_axis_choice(shape, seed):
    x = random_array(seed, shape, -3.0, 3.0)
    check_every_axis(F.logsumexp, lambda a, axis, keepdims:
                     np.log(np.exp(a).sum(axis=axis, keepdims=keepdims)), "logsumexp", x)


def test_logsumexp_is_stable_for_huge_values():
    x = cr.Variable(np.array([1000.0, 1000.0, -1000.0]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.logsumexp(x)
        y.backward()
    np.testing.assert_allclose(y.data, 1000.0 + np.log(2.0))
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5, 0.0])


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    with np.errstate(divide="ignore"):  # log 0 = -inf is the answer here, not an accident
        y = F.logsumexp(np.array([[-np.inf, -np.inf], [0.0, 0.0]]), axis=1)
    np.testing.assert_allclose(y.data, [-np.inf, np.log(2.0)])


def test_reductions_accept_a_list_of_axes():
    x = random_array(0, (2, 3, 4))
    np.testing.assert_allclose(F.sum(x, axis=[0, 2]).data, x.sum(axis=(0, 2)))
    np.testing.assert_allclose(F.max(x, axis=[0, 2]).data, x.max(axis=(0, 2)))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
def test_axis_out_of_range_names_the_function_and_shape(name):
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range for shape \(2, 3\)"):
        getattr(F, name)(np.ones((2, 3)), axis=2)


@given(shape=shapes(min_dims=1), seed=seeds)
def test_cumsum_along_each_axis_and_flattened(shape, seed):
    x = random_array(seed, shape)
    for axis in range(-len(shape), len(shape)):
        check_cumsum(x, axis)
    check_op(F.cumsum, [x], np.cumsum, torch_fn=lambda a: torch.cumsum(a.reshape(-1), 0))
    np.testing.assert_array_equal(F.cumsum(x, dim=0).data, np.cumsum(x, 0))


def check_cumsum(x, axis):
    check_op(lambda a: F.cumsum(a, axis), [x], lambda a: np.cumsum(a, axis),
             torch_fn=lambda a: torch.cumsum(a, dim=axis))


def check_variance(x, axis, keepdims, correction):
    dim = tuple(range(x.ndim)) if axis is None else axis
    options = dict(correction=correction, keepdims=keepdims)
    torch_options = dict(dim=dim, correction=correction, keepdim=keepdims)
    check_op(lambda a: F.var(a, axis, **options), [x],
             lambda a: np.var(a, axis=axis, keepdims=keepdims, ddof=correction),
             torch_fn=lambda a: torch.var(a, **torch_options))
    check_op(lambda a: F.std(a, axis, **options), [x],
             lambda a: np.std(a, axis=axis, keepdims=keepdims, ddof=correction),
             torch_fn=lambda a: torch.std(a, **torch_options))


@pytest.mark.parametrize("correction", [0, 1, 2])
@settings(max_examples=8)  # many variants: fewer shapes each
@given(shape=shapes(min_dims=1), seed=seeds)
def test_var_and_std_with_every_correction(correction, shape, seed):
    x = random_array(seed, shape)
    for axis in axis_choices(x.ndim):
        if x.size // np.sum(x, axis=axis).size <= correction:
            continue  # inf or nan: tested below
        for keepdims in (False, True):
            check_variance(x, axis, keepdims, correction)


def test_var_spellings_numpy_and_torch():
    x = random_array(0, (3, 4))
    np.testing.assert_allclose(F.var(x).data, np.var(x, ddof=1))  # torch's default
    np.testing.assert_allclose(F.var(x, axis=1, ddof=0).data, np.var(x, axis=1))
    np.testing.assert_allclose(F.std(x, dim=0, keepdim=True, unbiased=False).data,
                               np.std(x, axis=0, keepdims=True))
    np.testing.assert_allclose(F.var(x, 1, correction=0).data, np.var(x, axis=1))
    with pytest.raises(TypeError, match="var: pass one of correction, ddof and unbiased"):
        F.var(x, ddof=0, correction=1)
    with pytest.raises(TypeError, match="std: got axis=0 and dim=1; pass only one"):
        F.std(x, axis=0, dim=1)


def test_std_of_a_constant_slice_has_zero_gradient_and_one_element_is_nan_as_torch():
    x = cr.Variable(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]))
    F.std(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0], [0.0, 0.0, 0.0])
    compare_with_torch(lambda a: F.std(a, axis=1), lambda a: torch.std(a, dim=1), [x.data])
    one = cr.Variable(np.array([3.0]))
    with np.errstate(invalid="ignore"):  # 0 / 0, as torch
        s = F.std(one)
        s.backward()
    assert np.isnan(s.data) and np.isnan(one.grad.data[0])
