"""Regression losses: MSE, L1, Huber and smooth L1 against NumPy and PyTorch, broadcasting."""

import numpy as np
import pytest
from edge_rows import sprinkled
from hypothesis import given

import chainrule as cr
import chainrule.functions as F
from harness import broadcast_shapes, check_op, random_array, seeds, shapes, torch

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


def np_huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


def clear_of(d, points, margin=0.02):
    """Differences nudged away from the kinks at ``points`` (numerical gradients)."""
    for p in points:
        d = np.where(np.abs(np.abs(d) - p) < margin, d + 3 * margin, d)
    return d


@given(pair=broadcast_shapes(), seed=seeds)
def test_mean_squared_error_broadcasts(pair, seed):
    x0, x1 = random_array(seed, pair[0]), random_array(seed + 1, pair[1])
    check_op(F.mean_squared_error, [x0, x1], lambda a, b: np.mean((a - b) ** 2),
             torch_fn=lambda a, b: torch.mean((a - b) ** 2))


@given(shape=shapes(min_dims=1), seed=seeds)
def test_mean_squared_error_matches_torch_mse_loss(shape, seed):
    x0, x1 = random_array(seed, shape), random_array(seed + 1, shape)
    check_op(F.mean_squared_error, [x0, x1], lambda a, b: np.mean((a - b) ** 2),
             torch_fn=lambda a, b: torch.nn.functional.mse_loss(a, b))


def test_mean_squared_error_against_a_constant_target():
    x = cr.Variable(np.array([1.0, 3.0]))
    loss = F.mean_squared_error(x, np.array([0.0, 1.0]))
    loss.backward()
    np.testing.assert_allclose(loss.data, 2.5)
    np.testing.assert_allclose(x.grad.data, [1.0, 2.0])


def test_mean_squared_error_shape_mismatch_names_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"mean_squared_error: shapes \(2, 3\) and \(4,\)"):
        F.mean_squared_error(np.ones((2, 3)), np.ones(4))




@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")  # torch's, on broadcasting
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(pair=broadcast_shapes(), seed=seeds)
def test_mse_and_l1_loss_broadcast_and_reduce(reduction, pair, seed):
    x0, x1 = random_array(seed, pair[0]), random_array(seed + 1, pair[1])
    x0 = x1 + clear_of(np.broadcast_to(x0, np.broadcast_shapes(*pair)) - x1, [0.0])
    check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction), [x0, x1],
             lambda a, b: REDUCE[reduction]((a - b) ** 2),
             torch_fn=lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction))
    check_op(lambda a, b: F.l1_loss(a, b, reduction=reduction), [x0, x1],
             lambda a, b: REDUCE[reduction](np.abs(a - b)),
             torch_fn=lambda a, b: torch.nn.functional.l1_loss(a, b, reduction=reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("delta", [1.0, 0.4])
@given(shape=shapes(min_dims=1), seed=seeds)
@pytest.mark.usefixtures("bit_select")
def test_huber_and_smooth_l1_loss(reduction, delta, shape, seed):
    x1 = random_array(seed + 1, shape)
    x0 = x1 + clear_of(random_array(seed, shape), [delta])
    check_op(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta), [x0, x1],
             lambda a, b: REDUCE[reduction](np_huber(a - b, delta)),
             torch_fn=lambda a, b: torch.nn.functional.huber_loss(a, b, reduction=reduction,
                                                                  delta=delta))
    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=delta), [x0, x1],
             lambda a, b: REDUCE[reduction](np_huber(a - b, delta) / delta),
             torch_fn=lambda a, b: torch.nn.functional.smooth_l1_loss(
                 a, b, reduction=reduction, beta=delta))


@pytest.mark.usefixtures("bit_select")  # backend.where's bit-select on small arrays too
def test_huber_of_edge_values_is_numpys_where_byte_for_byte():
    d = sprinkled((3, 5)).astype(np.float32)
    with np.errstate(all="ignore"):
        y = F.huber_loss(d, np.float32(0), reduction="none", delta=0.5)
        a = np.abs(d)
        expected = np.where(a < 0.5, 0.5 * d * d, (a - 0.25) * 0.5)
    assert y.data.tobytes() == expected.tobytes()


def test_smooth_l1_with_beta_0_is_l1_and_kinks_follow_torch():
    x = cr.Variable(np.array([0.0, 1.0, -1.0, 3.0]))
    t = np.zeros(4)
    np.testing.assert_allclose(F.smooth_l1_loss(x, t, beta=0.0).data, F.l1_loss(x, t).data)
    F.huber_loss(x, t, reduction="sum").backward()  # clip(d, -δ, δ): ±δ at |d| = δ
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, -1.0, 1.0])
    x.cleargrad()
    F.l1_loss(x, t, reduction="sum").backward()  # abs'(0) = 0
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, -1.0, 1.0])


def test_regression_loss_argument_errors():
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(np.zeros(2), np.zeros(2), delta=0)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must not be negative"):
        F.smooth_l1_loss(np.zeros(2), np.zeros(2), beta=-1)
    with pytest.raises(ValueError, match=r"mse_loss: shapes \(2, 3\) and \(4,\) do not"):
        F.mse_loss(np.ones((2, 3)), np.ones(4))
