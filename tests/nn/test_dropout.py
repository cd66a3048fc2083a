import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_dropout_in_training_zeroes_and_rescales():
    np.random.seed(0)
    layer = nn.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    y = layer(x).data
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert 0.2 < np.mean(y == 0) < 0.3


def test_eval_mode_makes_dropout_the_identity_and_train_restores_it():
    np.random.seed(1)
    model = nn.Sequential(nn.Dropout(0.5))
    x = np.ones((10, 10), np.float32)
    np.testing.assert_array_equal(model.eval()(x).data, x)
    assert np.any(model.train()(x).data == 0)


def test_dropout_gradient_uses_the_same_mask():
    np.random.seed(2)
    x = cr.Variable(np.ones((4, 6), np.float32))
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)


def test_dropout_refuses_probabilities_outside_0_1():
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\]"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout()) == "Dropout(p=0.5)"
