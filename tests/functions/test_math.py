"""Elementwise math: forward against NumPy, gradients at orders 1 and 2, and PyTorch."""

import numpy as np
import pytest
from edge_rows import sprinkled
from hypothesis import given

import chainrule as cr
import chainrule.functions as F
from harness import broadcast_shapes, check_op, random_array, seeds, shapes, torch

BINARY = [
    (F.add, np.add, "add"),
    (F.sub, np.subtract, "sub"),
    (F.mul, np.multiply, "mul"),
    (F.div, np.divide, "div"),
    (F.pow, np.power, "pow"),
]


@pytest.mark.parametrize("fn, reference, name", BINARY, ids=[b[2] for b in BINARY])
@given(pair=broadcast_shapes(), seed=seeds)
def test_binary_functions_broadcast_and_differentiate_twice(fn, reference, name, pair, seed):
    a = random_array(seed, pair[0], 0.5, 2.0)  # positive: a valid base for pow
    b = random_array(seed + 1, pair[1], 0.5, 2.0)  # away from zero for div
    check_op(fn, [a, b], reference, torch_fn=lambda x, y: getattr(torch, name)(x, y))


# op, NumPy reference, torch name, sampling range (inside the domain, away from kinks)
UNARY = [
    (F.square, np.square, "square", (-2.0, 2.0)),
    (F.sqrt, np.sqrt, "sqrt", (0.5, 3.0)),
    (F.exp, np.exp, "exp", (-2.0, 2.0)),
    (F.log, np.log, "log", (0.5, 3.0)),
    (F.sin, np.sin, "sin", (-3.0, 3.0)),
    (F.cos, np.cos, "cos", (-3.0, 3.0)),
    (F.tan, np.tan, "tan", (-1.2, 1.2)),
    (F.tanh, np.tanh, "tanh", (-2.0, 2.0)),
    (F.neg, np.negative, "neg", (-2.0, 2.0)),
]


@pytest.mark.parametrize("fn, reference, name, bounds", UNARY, ids=[u[2] for u in UNARY])
@given(shape=shapes(), seed=seeds)
def test_unary_functions_match_numpy_and_differentiate_twice(fn, reference, name, bounds,
                                                             shape, seed):
    x = random_array(seed, shape, *bounds)
    check_op(fn, [x], reference, torch_fn=getattr(torch, name, None))


@given(shape=shapes(), seed=seeds)
def test_abs_away_from_zero(shape, seed):
    x = random_array(seed, shape, 0.2, 2.0) * np.where(random_array(seed + 1, shape) > 0, 1, -1)
    check_op(F.abs, [x], np.abs, torch_fn=getattr(torch, "abs", None))


@given(shape=shapes(), seed=seeds)
def test_clip_away_from_the_bounds(shape, seed):
    x = random_array(seed, shape, -3.0, 3.0)
    x = np.where(np.abs(np.abs(x) - 1.0) < 0.1, 0.0, x)  # keep clear of the kinks at ±1
    check_op(lambda a: F.clip(a, -1.0, 1.0), [x], lambda a: np.clip(a, -1.0, 1.0),
             torch_fn=lambda a: torch.clamp(a, -1.0, 1.0))


def test_clip_with_one_bound_open():
    x = np.array([-2.0, 0.5, 3.0])
    check_op(lambda a: F.clip(a, None, 1.0), [x], lambda a: np.minimum(a, 1.0))
    check_op(lambda a: F.clip(a, 0.0, None), [x], lambda a: np.maximum(a, 0.0))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bounds", [(0, None), (None, -0.0), (0.5, None), (None, -np.inf),
                                    (1e-46, None)])
def test_clip_with_one_bound_is_numpys_clip_byte_for_byte(dtype, bounds):
    """One bound: maximum or minimum, clip against ±inf when nonzero (backend.with_constant)."""
    x = sprinkled((2, 70_000)).astype(dtype)  # more than one block
    with np.errstate(all="ignore"):
        expected = np.clip(x, *bounds)
    assert F.clip(x, *bounds).data.tobytes() == expected.tobytes()
    assert F.clip(x.T, *bounds).data.tobytes() == expected.T.tobytes()


def test_abs_and_clip_gradients_at_the_kinks_follow_pytorch():
    x = cr.Variable(np.array([0.0, -1.0, 1.0, 2.0]))
    F.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0, 1.0, 1.0])
    x.cleargrad()
    F.clip(x, -1.0, 1.0).sum().backward()  # the bounds are inside, as in torch.clamp
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0, 0.0])


def test_tanh_backward_is_one_fused_call_that_differentiates_again():
    x = cr.Variable(np.array([0.3, -0.7]))
    (gx,) = cr.grad(F.tanh(x), [x], create_graph=True)
    assert type(gx.creator).__name__ == "TanhGrad"
    (ggx,) = cr.grad(gx.sum(), [x])
    t = np.tanh(x.data)
    np.testing.assert_allclose(ggx.data, -2 * t * (1 - t * t))


def test_binary_functions_accept_arrays_and_numbers_on_either_side():
    a = np.array([1.0, 2.0])
    v = cr.Variable(np.array([3.0, 4.0]))
    assert isinstance(F.add(a, a), cr.Variable)
    np.testing.assert_array_equal(F.add(a, a).data, [2.0, 4.0])
    np.testing.assert_array_equal(F.sub(2.0, a).data, [1.0, 0.0])
    np.testing.assert_array_equal(F.mul(a, v).data, [3.0, 8.0])
    np.testing.assert_array_equal(F.div(v, 2).data, [1.5, 2.0])
    np.testing.assert_array_equal(F.pow(2.0, v).data, [8.0, 16.0])
    y = F.mul(a, v)
    y.sum().backward()
    np.testing.assert_array_equal(v.grad.data, a)


def test_unary_functions_accept_arrays_and_lists():
    np.testing.assert_allclose(F.exp([0.0, 1.0]).data, [1.0, np.e])
    np.testing.assert_allclose(F.sin(np.array([0.0])).data, [0.0])


def test_shape_mismatch_names_the_function_and_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        F.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(2,\)"):
        F.mul(cr.Variable(np.ones((2, 3))), np.ones(2))


def test_non_array_input_is_a_type_error():
    with pytest.raises(TypeError):
        F.exp("abc")
    with pytest.raises(TypeError):
        F.tanh(None)


def test_clip_refuses_crossed_bounds():
    with pytest.raises(ValueError, match="clip: x_min 2.0 is greater than x_max 1.0"):
        F.clip(np.ones(3), 2.0, 1.0)
