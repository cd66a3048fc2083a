"""dropout: inverted scaling, the same mask forward and backward, repeatable, identity in eval."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from harness import random_array


def test_dropout_zeroes_about_p_and_scales_the_rest():
    np.random.seed(0)
    x = random_array(0, (200, 50), 0.5, 2.0)
    y = F.dropout(x, p=0.3)
    dropped = y.data == 0
    assert abs(dropped.mean() - 0.3) < 0.02
    np.testing.assert_allclose(y.data[~dropped], x[~dropped] / 0.7)


def test_dropout_gradient_uses_the_same_mask():
    np.random.seed(1)
    x = cr.Variable(random_array(1, (20, 10)))
    y = F.dropout(x, p=0.5)
    gy = random_array(2, (20, 10))
    y.backward(cr.Variable(gy))
    kept = y.data != 0
    np.testing.assert_allclose(x.grad.data, np.where(kept, gy * 2.0, 0.0))


def test_dropout_differentiates_twice():
    np.random.seed(2)
    x = cr.Variable(random_array(3, (4, 4)))
    d = F.dropout(x, p=0.25)
    mask = d.data / x.data  # 0 or 1/(1 - p)
    (gx,) = cr.grad((d * x).sum(), [x], create_graph=True)  # d(m x²)/dx = 2 m x
    np.testing.assert_allclose(gx.data, 2 * mask * x.data)
    (ggx,) = cr.grad(gx.sum(), [x])
    np.testing.assert_allclose(ggx.data, 2 * mask)
    assert np.all(np.isclose(mask, 0.0) | np.isclose(mask, 4 / 3))


def test_dropout_is_repeatable_with_numpy_seed():
    x = np.ones((5, 5))
    np.random.seed(7)
    first = F.dropout(x).data
    np.random.seed(7)
    np.testing.assert_array_equal(F.dropout(x).data, first)


def test_dropout_is_the_identity_in_evaluation_and_for_p_zero():
    x = cr.Variable(np.ones(3))
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x


def test_dropout_with_p_one_drops_everything():
    x = cr.Variable(np.ones(3))
    y = F.dropout(x, p=1.0)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, np.zeros(3))
    np.testing.assert_array_equal(x.grad.data, np.zeros(3))


def test_dropout_refuses_p_outside_zero_one():
    with pytest.raises(ValueError, match="dropout: p must lie in \\[0, 1\\], got 1.5"):
        F.dropout(np.ones(3), p=1.5)
