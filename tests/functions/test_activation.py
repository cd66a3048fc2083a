"""Activations: forward against NumPy, gradients at orders 1 and 2, PyTorch, and the kinks."""

import numpy as np
import pytest
from edge_rows import sprinkled
from hypothesis import given

import chainrule as cr
import chainrule.functions as F
from harness import check_op, random_array, seeds, shapes, torch

pytestmark = pytest.mark.usefixtures("bit_select")  # where's bit-select on small arrays too


def away_from_zero(seed, shape, margin=0.1):
    """Values in ±[margin, 2]: clear of the kink at 0."""
    sign = np.where(random_array(seed + 1, shape) > 0, 1.0, -1.0)
    return sign * random_array(seed, shape, margin, 2.0)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


@given(shape=shapes(), seed=seeds)
def test_sigmoid_matches_the_logistic_function(shape, seed):
    x = random_array(seed, shape, -4.0, 4.0)
    check_op(F.sigmoid, [x], lambda a: 1 / (1 + np.exp(-a)),
             torch_fn=getattr(torch, "sigmoid", None))


def test_sigmoid_saturates_without_overflow():
    with np.errstate(over="raise"):
        y = F.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(y.data, [0.0, 0.5, 1.0])


@given(shape=shapes(), seed=seeds)
def test_relu_away_from_zero(shape, seed):
    x = away_from_zero(seed, shape)
    check_op(F.relu, [x], lambda a: np.maximum(a, 0), torch_fn=getattr(torch, "relu", None))


@given(shape=shapes(), seed=seeds)
def test_leaky_relu_with_its_slope(shape, seed):
    x = away_from_zero(seed, shape)
    check_op(lambda a: F.leaky_relu(a, slope=0.2), [x], lambda a: np.where(a > 0, a, 0.2 * a),
             torch_fn=lambda a: torch.nn.functional.leaky_relu(a, 0.2))
    check_op(F.leaky_relu, [x], lambda a: np.where(a > 0, a, 0.01 * a),
             torch_fn=lambda a: torch.nn.functional.leaky_relu(a))


def test_relu_and_leaky_relu_gradients_at_zero_follow_pytorch():
    x = cr.Variable(np.array([0.0, 1.0, -1.0]))
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])  # relu'(0) = 0
    x.cleargrad()
    F.leaky_relu(x, slope=0.1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.1, 1.0, 0.1])  # the slope at 0, as torch


def test_relu_second_derivative_is_zero():
    x = cr.Variable(np.array([-1.5, 2.0]))
    (gx,) = cr.grad(F.relu(x) * x, [x], create_graph=True)  # d(x relu x) = relu x + x [x>0]
    np.testing.assert_array_equal(gx.data, [0.0, 4.0])
    (ggx,) = cr.grad(gx.sum(), [x])
    np.testing.assert_array_equal(ggx.data, [0.0, 2.0])


@given(shape=shapes(), seed=seeds)
def test_gelu_equals_torch_tanh_approximation(shape, seed):
    x = random_array(seed, shape, -3.0, 3.0)
    check_op(F.gelu, [x], np_gelu,
             torch_fn=lambda a: torch.nn.functional.gelu(a, approximate="tanh"))


@pytest.mark.parametrize("axis", [0, -1, 1])
@given(seed=seeds)
def test_softmax_along_an_axis(axis, seed):
    x = random_array(seed, (3, 4, 2), -3.0, 3.0)
    check_op(lambda a: F.softmax(a, axis=axis), [x], lambda a: np_softmax(a, axis),
             torch_fn=lambda a: torch.softmax(a, dim=axis))


@pytest.mark.parametrize("axis", [0, -1])
@given(seed=seeds)
def test_log_softmax_along_an_axis(axis, seed):
    x = random_array(seed, (4, 3), -3.0, 3.0)
    check_op(lambda a: F.log_softmax(a, axis=axis), [x], lambda a: np.log(np_softmax(a, axis)),
             torch_fn=lambda a: torch.log_softmax(a, dim=axis))


def test_softmax_and_log_softmax_are_stable_for_huge_logits():
    x = cr.Variable(np.array([[1000.0, -1000.0, 999.0]]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = F.softmax(x)
        log_p = F.log_softmax(x)
        (log_p * np.array([[1.0, 0.0, 0.0]])).sum().backward()
    np.testing.assert_allclose(p.data.sum(), 1.0)
    tail = np.log1p(np.exp(-1.0))
    np.testing.assert_allclose(log_p.data, [[-tail, -2000 - tail, -1 - tail]])
    assert np.all(np.isfinite(x.grad.data))


def test_softmax_rows_sum_to_one():
    y = F.softmax(random_array(3, (5, 7)), axis=1)
    np.testing.assert_allclose(y.data.sum(axis=1), np.ones(5))


@pytest.mark.parametrize("fn, grad_name", [
    (F.sigmoid, "SigmoidGrad"), (F.relu, "ReluGrad"), (F.leaky_relu, "LeakyReluGrad"),
    (F.tanh, "TanhGrad"), (F.exp, "Mul"),
])
def test_hot_activations_backpropagate_in_one_fused_call(fn, grad_name):
    x = cr.Variable(np.array([0.5, -1.5]))
    (gx,) = cr.grad(fn(x), [x], grad_outputs=[cr.Variable(np.ones(2))], create_graph=True)
    assert type(gx.creator).__name__ == grad_name
    assert gx.creator.inputs[0].creator is None  # straight from the output gradient


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


@given(shape=shapes(), seed=seeds)
def test_silu_is_x_times_sigmoid(shape, seed):
    x = random_array(seed, shape, -4.0, 4.0)
    check_op(F.silu, [x], lambda a: a * np_sigmoid(a),
             torch_fn=lambda a: torch.nn.functional.silu(a))


@pytest.mark.parametrize("alpha", [1.0, 0.3])
@given(shape=shapes(), seed=seeds)
def test_elu_with_its_alpha(alpha, shape, seed):
    x = away_from_zero(seed, shape)
    check_op(lambda a: F.elu(a, alpha=alpha), [x],
             lambda a: np.where(a > 0, a, alpha * np.expm1(a)),
             torch_fn=lambda a: torch.nn.functional.elu(a, alpha=alpha))


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 3.0), (0.5, 1.0)])
@given(shape=shapes(), seed=seeds)
def test_softplus_with_beta_and_its_linear_tail(beta, threshold, shape, seed):
    x = random_array(seed, shape, -4.0, 4.0)
    x = np.where(np.abs(x * beta - threshold) < 0.05, x + 0.2, x)  # clear of the switch

    def reference(a):
        return np.where(a * beta > threshold, a, np.log1p(np.exp(beta * a)) / beta)

    check_op(lambda a: F.softplus(a, beta=beta, threshold=threshold), [x], reference,
             torch_fn=lambda a: torch.nn.functional.softplus(a, beta=beta, threshold=threshold))


@given(shape=shapes(), seed=seeds)
def test_hardtanh_away_from_its_bounds(shape, seed):
    x = random_array(seed, shape, -2.5, 3.5)
    x = np.where(np.abs(np.abs(x - 0.5) - 1.0) < 0.05, x + 0.1, x)  # clear of -0.5 and 1.5
    check_op(lambda a: F.hardtanh(a, -0.5, 1.5), [x], lambda a: np.clip(a, -0.5, 1.5),
             torch_fn=lambda a: torch.nn.functional.hardtanh(a, -0.5, 1.5))


def test_activation_edges_follow_pytorch():
    x = cr.Variable(np.array([-1.0, 0.0, 1.0, 1000.0, -1000.0]))
    F.hardtanh(x).sum().backward()  # open bounds: 0 at ±1 (clip keeps 1 there, as clamp)
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0, 0.0, 0.0])
    x.cleargrad()
    with np.errstate(over="raise", invalid="raise"):
        F.elu(x, alpha=0.5).sum().backward()  # α at 0; no overflow at 1000
    np.testing.assert_allclose(x.grad.data, [0.5 * np.exp(-1), 0.5, 1.0, 1.0, 0.0])
    x.cleargrad()
    with np.errstate(over="raise", invalid="raise"):
        y = F.softplus(x)
        y.sum().backward()
    np.testing.assert_allclose(y.data, [np.log1p(np.exp(-1)), np.log(2), np.log1p(np.e),
                                        1000.0, 0.0])
    np.testing.assert_allclose(x.grad.data, [np_sigmoid(-1), 0.5, np_sigmoid(1), 1.0, 0.0])
    x.cleargrad()
    with np.errstate(over="raise"):
        F.silu(x).sum().backward()
    np.testing.assert_allclose(x.grad.data[[1, 3, 4]], [0.5, 1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_activations_are_numpys_where_byte_for_byte(dtype):
    """leaky_relu, elu and softplus with their gradients take backend.where's bit-select and
    a block for their one-sided clamp: the same bytes as NumPy's where and minimum (NaN
    payloads, -0.0, ±inf included), on arrays large enough for it without the fixture."""
    x = sprinkled((3, 4000)).astype(dtype)
    x.view(f"i{x.itemsize}")[0, :3] = [-1, 1, -2]  # NaNs with other payloads
    gy = sprinkled(x.shape, seed=1).astype(dtype)
    with np.errstate(all="ignore"):
        rows = [
            (lambda v: F.leaky_relu(v, 0.2), np.where(x > 0, x, x * 0.2),
             np.where(x > 0, gy, gy * 0.2)),
            (lambda v: F.elu(v, 0.5), np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))),
             None),
            (lambda v: F.softplus(v, 2.0, 3.0), np.where(
                x * 2 > 3, x, np.log1p(np.exp(np.minimum(x * 2, 3.0))) / 2.0), None),
        ]
        for f, y_expected, gx_expected in rows:
            v = cr.Variable(x)
            y = f(v)
            assert y.data.tobytes() == y_expected.tobytes()
            y.backward(cr.Variable(gy))
            if gx_expected is not None:
                assert v.grad.data.tobytes() == gx_expected.tobytes()


def test_activation_argument_errors():
    with pytest.raises(ValueError, match="hardtanh: min_val 2 is greater than max_val 1"):
        F.hardtanh(np.zeros(2), 2, 1)
    with pytest.raises(ValueError, match="softplus: beta must not be 0"):
        F.softplus(np.zeros(2), beta=0)
