"""The hand-written layers: the seeds' numbers exact, and every backward equal to the engine's.

Each layer's gradients are compared with ``chainrule.grad`` on the same
computation built from ``chainrule.functions``, in float64, with a random
upstream gradient ``dout`` (never all ones, so a layer that ignores ``dout``
fails). Inputs include exact zeros and both signs, so a relu that zeroes the
wrong elements, a sigmoid derivative taken from x instead of the output, or an
Affine ``dW`` built from dx all fail here.
"""

import ast
import inspect

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import manual
from chainrule.data import Digits
from chainrule.functions.norm import batch_norm
from chainrule.manual import (
    AddLayer,
    Affine,
    BatchNormalization,
    Dropout,
    MulLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    TwoLayerNet,
)


def rng(seed):
    return np.random.default_rng(seed)


def engine(fn, arrays, dout):
    """``(y, grads)`` of ``fn`` on float64 Variables of ``arrays``, backpropagating ``dout``."""
    variables = [cr.Variable(np.array(a, dtype=np.float64)) for a in arrays]
    y = fn(*variables)
    grads = cr.grad(y, variables, grad_outputs=[cr.Variable(np.asarray(dout, np.float64))])
    return y.data, [g.data for g in grads]


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)


# ---- the seeds' shopping numbers ------------------------------------------------------


def test_mul_layer_gives_the_seeds_apple_numbers_exactly():
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    price = mul_tax_layer.forward(mul_apple_layer.forward(100, 2), 1.1)
    dapple_price, dtax = mul_tax_layer.backward(1)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert price == 220.00000000000003
    assert (dapple_price, dtax) == (1.1, 200)
    assert (dapple, dapple_num) == (2.2, 110.00000000000001)


def test_mul_and_add_layers_give_the_seeds_apple_orange_numbers_exactly():
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    all_price = add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3))
    price = mul_tax.forward(all_price, 1.1)
    d_all_price, d_tax = mul_tax.backward(1)
    d_apple_price, d_orange_price = add.backward(d_all_price)
    assert price == 715.0000000000001
    assert (d_all_price, d_tax) == (1.1, 650)
    assert (d_apple_price, d_orange_price) == (1.1, 1.1)
    assert mul_apple.backward(d_apple_price) == (2.2, 110.00000000000001)
    assert mul_orange.backward(d_orange_price) == (3.3000000000000003, 165.0)


# ---- each layer against the engine ----------------------------------------------------


@pytest.mark.parametrize("layer, fn", [(MulLayer, F.mul), (AddLayer, F.add)])
def test_mul_and_add_layers_match_the_engine_on_arrays(layer, fn):
    x, y, dout = rng(0).standard_normal((3, 3, 4))
    node = layer()
    out = node.forward(x, y)
    expected, grads = engine(fn, [x, y], dout)
    close(out, expected)
    for actual, g in zip(node.backward(dout), grads):
        close(actual, g)


def test_relu_passes_dout_where_x_is_positive_and_zeroes_it_elsewhere():
    x = np.array([[-2.0, 0.0, 0.5], [3.0, -0.0, -1e-9]])
    dout = np.array([[1.5, -2.0, 0.25], [-3.0, 4.0, 5.0]])
    dout_before = dout.copy()
    relu = Relu()
    out = relu.forward(x)
    dx = relu.backward(dout)
    expected, (gx,) = engine(F.relu, [x], dout)
    close(out, expected)
    np.testing.assert_array_equal(dx, gx)
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 0.25], [-3.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dout, dout_before)  # backward must not write into dout


def test_sigmoid_matches_the_engine_and_stays_finite_for_large_inputs():
    x = np.concatenate([rng(1).uniform(-6, 6, 10), [-800.0, 800.0, 0.0]])
    dout = rng(2).standard_normal(x.shape)
    sigmoid = Sigmoid()
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        out = sigmoid.forward(x)
        dx = sigmoid.backward(dout)
    expected, (gx,) = engine(F.sigmoid, [x], dout)
    close(out, expected)
    close(dx, gx)


@pytest.mark.parametrize("x_shape", [(5, 4), (5, 2, 2), (5, 1, 2, 2)])
def test_affine_matches_linear_and_restores_the_input_shape(x_shape):
    g = rng(3)
    x, W, b = g.standard_normal(x_shape), g.standard_normal((4, 3)), g.standard_normal(3)
    dout = g.standard_normal((5, 3))
    affine = Affine(W, b)
    out = affine.forward(x)
    dx = affine.backward(dout)
    expected, (gx, gW, gb) = engine(
        lambda x, W, b: F.linear(F.reshape(x, (5, 4)), W, b), [x, W, b], dout
    )
    close(out, expected)
    assert dx.shape == x_shape and affine.dW.shape == W.shape and affine.db.shape == b.shape
    close(dx, gx)
    close(affine.dW, gW)
    close(affine.db, gb)


def one_hot(t, classes):
    return np.eye(classes)[t]


@pytest.mark.parametrize("labels", ["indices", "one-hot"])
@pytest.mark.parametrize("dout", [1, 2.5])
def test_softmax_with_loss_matches_softmax_cross_entropy(labels, dout):
    g = rng(4)
    x, t = g.standard_normal((6, 5)) * 3, g.integers(0, 5, 6)
    target = t if labels == "indices" else one_hot(t, 5)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, target)
    dx = layer.backward() if dout == 1 else layer.backward(dout)
    expected, (gx,) = engine(lambda x: F.softmax_cross_entropy(x, t), [x], dout)
    close(loss, expected)
    close(dx, gx)


def test_softmax_with_loss_is_stable_for_huge_scores():
    layer = SoftmaxWithLoss()
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = layer.forward(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert loss == pytest.approx(500.0)
    close(layer.backward(), [[0.0, 0.0], [-0.5, 0.5]])


def test_dropout_is_the_books_keep_mask_and_scales_by_one_minus_ratio_in_test_mode():
    x, dout = rng(5).standard_normal((2, 50, 8))
    layer = Dropout(dropout_ratio=0.3)
    np.random.seed(7)
    out = layer.forward(x)
    dx = layer.backward(dout)
    np.random.seed(7)  # the book's mask, drawn again: keep where u > dropout_ratio
    kept = np.random.rand(*x.shape) > 0.3
    np.testing.assert_array_equal(layer.mask, kept)
    assert 0.5 < kept.mean() < 0.9  # about 70% kept
    np.testing.assert_array_equal(out, np.where(kept, x, 0.0))  # unscaled, unlike nn.Dropout
    np.testing.assert_array_equal(dx, np.where(kept, dout, 0.0))
    # the same computation in the engine: x times the layer's own mask
    expected, (gx,) = engine(lambda x: x * cr.Variable(layer.mask.astype(x.dtype)), [x], dout)
    close(out, expected)
    close(dx, gx)
    # F.dropout (inverted, as PyTorch) keeps the same elements from the same seed, scaled
    np.random.seed(7)
    expected, (gx,) = engine(lambda x: F.dropout(x, p=0.3) * 0.7, [x], dout)
    close(out, expected)
    close(dx, gx)
    close(layer.forward(x, train_flg=False), x * 0.7)


def test_dropout_test_mode_matches_the_training_mean():
    layer = Dropout(dropout_ratio=0.4)
    x = np.full((200, 500), 2.0)
    np.random.seed(3)
    assert layer.forward(x).mean() == pytest.approx(layer.forward(x, train_flg=False).mean(),
                                                     rel=0.01)
    assert layer.forward(x, train_flg=False)[0, 0] == pytest.approx(1.2)


@pytest.mark.parametrize("x_shape", [(8, 3), (4, 3, 2, 5)])
@pytest.mark.parametrize("train_flg", [True, False])
def test_batch_normalization_matches_batch_norm(x_shape, train_flg):
    g = rng(6)
    x = g.standard_normal(x_shape) * 2 + 1
    gamma, beta = g.uniform(0.5, 2, 3), g.standard_normal(3)
    mean, var = g.standard_normal(3), g.uniform(0.5, 2, 3)
    dout = g.standard_normal(x_shape)
    layer = BatchNormalization(gamma, beta, momentum=0.9, running_mean=mean.copy(),
                               running_var=var.copy())
    out = layer.forward(x, train_flg=train_flg)
    dx = layer.backward(dout)
    ref_mean, ref_var = mean.copy(), var.copy()
    expected, (gx, ggamma, gbeta) = engine(
        lambda x, gamma, beta: batch_norm(x, gamma, beta, ref_mean, ref_var,
                                          training=train_flg, momentum=0.1),
        [x, gamma, beta], dout)
    close(out, expected)
    close(dx, gx)
    close(layer.dgamma, ggamma)
    close(layer.dbeta, gbeta)
    # the running estimates move the same way (momentum 0.9 here is PyTorch's 0.1)
    close(layer.running_mean, ref_mean)
    close(layer.running_var, ref_var)


def test_batch_normalization_starts_its_running_estimates_at_zero_mean_unit_variance():
    x = rng(7).standard_normal((6, 4))
    layer = BatchNormalization(np.ones(4), np.zeros(4))
    layer.forward(x, train_flg=True)
    close(layer.running_mean, 0.1 * x.mean(axis=0))
    close(layer.running_var, 0.9 + 0.1 * x.var(axis=0, ddof=1))


def test_layers_reject_bad_arguments_with_one_sentence():
    with pytest.raises(ValueError, match="Dropout: dropout_ratio"):
        Dropout(1.5)
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss: x must be \(N, C\)"):
        SoftmaxWithLoss().forward(np.zeros(3), np.array(0))


# ---- the two-layer network ------------------------------------------------------------


@pytest.mark.parametrize("labels", ["indices", "one-hot"])
def test_two_layer_net_backprop_equals_numerical_gradient(labels):
    np.random.seed(8)
    net = TwoLayerNet(input_size=4, hidden_size=5, output_size=3, weight_init_std=1.0)
    g = rng(9)
    x, t = g.standard_normal((6, 4)), g.integers(0, 3, 6)
    target = t if labels == "indices" else one_hot(t, 3)
    backprop = net.gradient(x, target)
    numerical = net.numerical_gradient(x, target)
    assert list(backprop) == ["W1", "b1", "W2", "b2"] == list(net.params)
    for key in net.params:
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=1e-5, atol=1e-8)


def test_two_layer_net_reaches_90_percent_test_accuracy_on_digits_with_sgd():
    np.random.seed(0)
    train, test = Digits(train=True), Digits(train=False)
    net = TwoLayerNet(input_size=64, hidden_size=50, output_size=10)
    order = np.random.default_rng(0)
    for _ in range(15):
        for batch in np.array_split(order.permutation(len(train)), len(train) // 50):
            grads = net.gradient(train.x[batch], train.t[batch])
            for key, param in net.params.items():
                param -= 0.5 * grads[key]
    assert net.accuracy(test.x, test.t) >= 0.9


# ---- the module itself ----------------------------------------------------------------


def test_manual_imports_numpy_alone_and_nothing_from_chainrule():
    tree = ast.parse(inspect.getsource(manual))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"numpy", "collections"}
