"""batch_norm and layer_norm vs NumPy, central differences and torch, running statistics too."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.functions.norm import batch_norm, layer_norm
from harness import check_op, compare_with_torch, random_array, seeds, torch

# second order goes through x̂ rebuilt from x: more roundoff in the central differences
ORDER2 = {"atol": 1e-4, "rtol": 1e-3}


def normalize_reference(x, gamma, beta, axes, shape, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


batch_shapes = st.one_of(
    st.tuples(st.integers(2, 4), st.integers(1, 3)),
    st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2)),
).filter(lambda s: np.prod(s) // s[1] >= 2)


@settings(max_examples=12)
@given(shape=batch_shapes, seed=seeds)
def test_batch_norm_training_matches_numpy_torch_and_differentiates_twice(shape, seed):
    x = random_array(seed, shape)
    c = shape[1]
    gamma, beta = random_array(seed + 1, (c,)), random_array(seed + 2, (c,))
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    param_shape = (1, c) + (1,) * (len(shape) - 2)
    check_op(lambda x, g, b: batch_norm(x, g, b), [x, gamma, beta],
             lambda x, g, b: normalize_reference(x, g, b, axes, param_shape),
             torch_fn=lambda x, g, b: torch.nn.functional.batch_norm(x, None, None, g, b, True),
             **ORDER2)


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 2, 3)])
def test_batch_norm_updates_running_statistics_in_place_like_torch(shape):
    x = random_array(0, shape)
    c = shape[1]
    gamma, beta = random_array(1, (c,)), random_array(2, (c,))
    running_mean, running_var = random_array(3, (c,)), random_array(4, (c,), 0.5, 2.0)
    mean, var = running_mean.copy(), running_var.copy()
    batch_norm(x, cr.Variable(gamma), cr.Variable(beta), mean, var, momentum=0.2)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    m = x.size // c
    np.testing.assert_allclose(mean, 0.8 * running_mean + 0.2 * x.mean(axis=axes))
    np.testing.assert_allclose(var, 0.8 * running_var + 0.2 * x.var(axis=axes) * m / (m - 1))
    if torch is not None:
        t_mean, t_var = torch.tensor(running_mean), torch.tensor(running_var)
        torch.nn.functional.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(gamma),
                                       torch.tensor(beta), True, 0.2)
        np.testing.assert_allclose(mean, t_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(var, t_var.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 2)])
def test_batch_norm_eval_uses_running_statistics_and_differentiates_twice(shape):
    x = random_array(0, shape)
    c = shape[1]
    gamma, beta = random_array(1, (c,)), random_array(2, (c,))
    mean, var = random_array(3, (c,)), random_array(4, (c,), 0.5, 2.0)
    param_shape = (1, c) + (1,) * (len(shape) - 2)

    def reference(x, g, b):
        return (x - mean.reshape(param_shape)) / np.sqrt(var.reshape(param_shape) + 1e-5) \
            * g.reshape(param_shape) + b.reshape(param_shape)

    check_op(lambda x, g, b: batch_norm(x, g, b, mean, var, training=False), [x, gamma, beta],
             reference, torch_fn=lambda x, g, b: torch.nn.functional.batch_norm(
                 x, torch.tensor(mean), torch.tensor(var), g, b, False))
    untouched = mean.copy()
    batch_norm(x, cr.Variable(gamma), cr.Variable(beta), mean, var, training=False)
    np.testing.assert_array_equal(mean, untouched)


def test_batch_norm_keeps_float32_and_accepts_variable_buffers():
    rng = np.random.default_rng(0)
    x = cr.Variable(rng.standard_normal((4, 3, 2, 2)).astype(np.float32))
    gamma = cr.Variable(np.ones(3, np.float32))
    beta = cr.Variable(np.zeros(3, np.float32))
    mean = cr.Variable(np.zeros(3, np.float32), requires_grad=False)
    var = cr.Variable(np.ones(3, np.float32), requires_grad=False)
    y = batch_norm(x, gamma, beta, mean, var)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == x.grad.dtype == gamma.grad.dtype == beta.grad.dtype == np.float32
    assert mean.data.dtype == var.data.dtype == np.float32
    assert not np.allclose(mean.data, 0)
    y_eval = batch_norm(x, gamma, beta, mean, var, training=False)
    assert y_eval.dtype == np.float32


def test_batch_norm_errors_name_the_function_and_shapes():
    g = cr.Variable(np.ones(3))
    message = r"batch_norm: gamma \(3,\) and beta \(3,\) must be \(2,\)"
    with pytest.raises(ValueError, match=message):
        batch_norm(np.ones((4, 2)), g, g)
    with pytest.raises(ValueError, match=r"batch_norm: training needs more than 1 value"):
        batch_norm(np.ones((1, 3)), g, g)
    with pytest.raises(ValueError, match=r"batch_norm: eval mode .* needs running_mean"):
        batch_norm(np.ones((2, 3)), g, g, training=False)
    with pytest.raises(ValueError, match=r"batch_norm: x must be \(N, C\) or \(N, C, H, W\)"):
        batch_norm(np.ones((2, 3, 4)), g, g)


@st.composite
def layer_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    k = draw(st.integers(1, len(shape)))
    return shape, k


@settings(max_examples=12)
@given(case=layer_cases(), seed=seeds)
def test_layer_norm_over_trailing_axes_matches_numpy_torch_and_differentiates_twice(case, seed):
    shape, k = case
    x = random_array(seed, shape)
    param = shape[len(shape) - k:]
    gamma, beta = random_array(seed + 1, param), random_array(seed + 2, param)
    axes = tuple(range(len(shape) - k, len(shape)))
    check_op(lambda x, g, b: layer_norm(x, g, b), [x, gamma, beta],
             lambda x, g, b: normalize_reference(x, g, b, axes, param),
             torch_fn=lambda x, g, b: torch.nn.functional.layer_norm(x, param, g, b), **ORDER2)


def test_layer_norm_keeps_float32_and_rejects_mismatched_shapes():
    x = cr.Variable(np.arange(12, dtype=np.float32).reshape(2, 6))
    gamma, beta = cr.Variable(np.ones(6, np.float32)), cr.Variable(np.zeros(6, np.float32))
    y = layer_norm(x, gamma, beta)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == x.grad.dtype == gamma.grad.dtype == np.float32
    compare_with_torch(lambda x, g, b: layer_norm(x, g, b, eps=1e-3),
                       lambda x, g, b: torch.nn.functional.layer_norm(x, (6,), g, b, 1e-3),
                       [x.data.astype(np.float64), np.ones(6), np.zeros(6)])
    message = r"layer_norm: gamma \(4,\) .* trailing axes of x \(2, 6\)"
    with pytest.raises(ValueError, match=message):
        layer_norm(x, cr.Variable(np.ones(4)), cr.Variable(np.ones(4)))
