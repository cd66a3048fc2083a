"""Losses: values against NumPy and PyTorch, gradients at orders 1 and 2, stability, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import broadcast_shapes, check_op, random_array, seeds, shapes, torch


def np_cross_entropy(x, labels):
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(x)), labels].mean()


@given(n=st.integers(1, 5), c=st.integers(1, 5), seed=seeds)
def test_softmax_cross_entropy_with_int_labels(n, c, seed):
    x = random_array(seed, (n, c), -3.0, 3.0)
    labels = np.random.default_rng(seed).integers(0, c, size=n)
    check_op(lambda a: F.softmax_cross_entropy(a, labels), [x],
             lambda a: np_cross_entropy(a, labels),
             torch_fn=lambda a: torch.nn.functional.cross_entropy(a, torch.as_tensor(labels)))


@given(n=st.integers(1, 5), c=st.integers(1, 5), seed=seeds)
def test_softmax_cross_entropy_one_hot_equals_int_labels(n, c, seed):
    x = random_array(seed, (n, c), -3.0, 3.0)
    labels = np.random.default_rng(seed).integers(0, c, size=n)
    one_hot = np.eye(c)[labels]
    check_op(lambda a: F.softmax_cross_entropy(a, one_hot), [x],
             lambda a: np_cross_entropy(a, labels),
             torch_fn=lambda a: torch.nn.functional.cross_entropy(a, torch.as_tensor(one_hot)))


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    x = cr.Variable(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.softmax_cross_entropy(x, np.array([1, 2]))
        loss.backward()
    # row 0 loses 2000; row 1 loses logsumexp(1000, 999) - 999 = 1 + log(1 + e⁻¹)
    np.testing.assert_allclose(loss.data, (2000.0 + 1.0 + np.log1p(np.exp(-1.0))) / 2)
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data.sum(axis=1), [0.0, 0.0], atol=1e-12)


def test_softmax_cross_entropy_accepts_a_label_variable_and_float32():
    x = cr.Variable(random_array(0, (3, 4)).astype(np.float32))
    loss = F.softmax_cross_entropy(x, cr.Variable(np.array([0, 3, 1])))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_softmax_cross_entropy_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got 0 to 3"):
        F.softmax_cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"x of shape \(2, 3\) and t of shape \(3,\) do not"):
        F.softmax_cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="must be integers"):
        F.softmax_cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"x must be \(N, C\) logits, got shape \(3,\)"):
        F.softmax_cross_entropy(np.zeros(3), np.array([0]))


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


def test_sigmoid_cross_entropy_is_stable_and_takes_int_targets():
    x = cr.Variable(np.array([1000.0, -1000.0, 0.0]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.sigmoid_cross_entropy(x, np.array([0, 1, 1]))
        loss.backward()
    np.testing.assert_allclose(loss.data, (1000.0 + 1000.0 + np.log(2.0)) / 3)
    np.testing.assert_allclose(x.grad.data, [1 / 3, -1 / 3, -0.5 / 3])
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: x of shape \(3,\) and t"):
        F.sigmoid_cross_entropy(x, np.ones(2))
