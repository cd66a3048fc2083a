"""Binary losses: BCE on probabilities and on logits against NumPy and PyTorch, torch's edges."""

import numpy as np
import pytest
from hypothesis import given

import chainrule as cr
import chainrule.functions as F
from harness import check_op, random_array, seeds, shapes, torch

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


@given(shape=shapes(min_dims=1), seed=seeds)
def test_sigmoid_cross_entropy_matches_torch(shape, seed):
    x = random_array(seed, shape, -4.0, 4.0)
    t = np.random.default_rng(seed).uniform(0, 1, size=shape)

    def reference(a):
        p = 1 / (1 + np.exp(-a))
        return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))

    check_op(lambda a: F.sigmoid_cross_entropy(a, t), [x], reference,
             torch_fn=lambda a: torch.nn.functional.binary_cross_entropy_with_logits(
                 a, torch.as_tensor(t)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_losses_clamp_large_arrays_as_numpys_maximum_does(dtype):
    """Their max(·, c) runs against a block of c (backend.with_constant): the same bytes."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 70_000).astype(dtype)
    p[:4] = [0.0, 1.0, 1e-45, 0.5]  # log 0 = -inf, clamped to -100
    x = rng.standard_normal(p.shape).astype(dtype) * 50
    x[:4] = [np.inf, -np.inf, -0.0, 0.0]
    t = rng.uniform(0, 1, p.shape).astype(dtype)
    with np.errstate(all="ignore"):
        bce = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
        logits = (1 - t) * x + (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))
        got = F.binary_cross_entropy(p, t, reduction="none").data
        got_logits = F.binary_cross_entropy_with_logits(x, t, reduction="none").data
    assert got.tobytes() == bce.tobytes() and got_logits.tobytes() == logits.tobytes()


def test_sigmoid_cross_entropy_is_stable_and_takes_int_targets():
    x = cr.Variable(np.array([1000.0, -1000.0, 0.0]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.sigmoid_cross_entropy(x, np.array([0, 1, 1]))
        loss.backward()
    np.testing.assert_allclose(loss.data, (1000.0 + 1000.0 + np.log(2.0)) / 3)
    np.testing.assert_allclose(x.grad.data, [1 / 3, -1 / 3, -0.5 / 3])
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: x of shape \(3,\) and t"):
        F.sigmoid_cross_entropy(x, np.ones(2))




@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(shape=shapes(min_dims=1), seed=seeds)
def test_binary_cross_entropy_with_weights(reduction, shape, seed):
    x = random_array(seed, shape, 0.05, 0.95)
    t = np.random.default_rng(seed).uniform(0, 1, size=shape)
    w = random_array(seed + 1, shape[-1:], 0.5, 2.0)

    def reference(a):
        return REDUCE[reduction](-w * (t * np.log(a) + (1 - t) * np.log(1 - a)))

    check_op(lambda a: F.binary_cross_entropy(a, t, w, reduction=reduction), [x], reference,
             torch_fn=lambda a: torch.nn.functional.binary_cross_entropy(
                 a, torch.as_tensor(t), torch.as_tensor(w), reduction=reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(shape=shapes(min_dims=1), seed=seeds)
def test_binary_cross_entropy_with_logits_pos_weight_and_weight(reduction, shape, seed):
    x = random_array(seed, shape, -4.0, 4.0)
    t = np.random.default_rng(seed).uniform(0, 1, size=shape)
    p = random_array(seed + 1, shape[-1:], 0.5, 3.0)
    w = random_array(seed + 2, shape, 0.5, 2.0)

    def reference(a):
        s = 1 / (1 + np.exp(-a))
        return REDUCE[reduction](-w * (p * t * np.log(s) + (1 - t) * np.log(1 - s)))

    options = dict(reduction=reduction, pos_weight=p)
    check_op(lambda a: F.binary_cross_entropy_with_logits(a, t, w, **options), [x], reference,
             torch_fn=lambda a: torch.nn.functional.binary_cross_entropy_with_logits(
                 a, torch.as_tensor(t), torch.as_tensor(w), reduction=reduction,
                 pos_weight=torch.as_tensor(p)))


def test_a_weight_variable_gets_its_gradient_where_torch_refuses_one():
    x, t = random_array(0, (3, 2), 0.1, 0.9), np.array([[0.0, 1.0]] * 3)
    w = random_array(1, (2,), 0.5, 1.5)
    check_op(lambda a, b: F.binary_cross_entropy(a, t, b), [x, w],
             lambda a, b: np.mean(-b * (t * np.log(a) + (1 - t) * np.log(1 - a))))


def test_binary_cross_entropy_at_0_and_1_clamps_log_at_minus_100_as_torch():
    x = cr.Variable(np.array([0.0, 1.0, 0.0, 1.0, 1e-50]))
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(divide="raise", invalid="raise"):
        loss = F.binary_cross_entropy(x, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_array_equal(loss.data, [100.0, 100.0, 0.0, 0.0, 100.0])
    # torch's gradient (x - t) / max(x (1 - x), 1e-12): finite, and 0 where x = t
    np.testing.assert_allclose(x.grad.data, [-1e12, 1e12, 0.0, 0.0, -1e12])


def test_binary_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input values must lie in"):
        F.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: input of shape"):
        F.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="binary_cross_entropy: reduction must be one of"):
        F.binary_cross_entropy(np.zeros(3), np.zeros(3), reduction="avg")
