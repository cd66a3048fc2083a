"""clip_grad_norm and clip_grad_value: as torch.nn.utils.clip_grad_norm_ and clip_grad_value_."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import clip_grad_norm
from harness import torch

SHAPES = [(3, 4), (5,), ()]


def grads(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def params_with(arrays):
    params = [cr.Variable(np.zeros_like(g)) for g in arrays]
    for p, g in zip(params, arrays):
        p.grad = cr.Variable(g.copy())
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    if torch is None:
        pytest.skip("torch is not installed")
    arrays = grads()
    params = params_with(arrays) + [cr.Variable(np.ones(2))]  # the last has no grad
    total = clip_grad_norm(params, max_norm, norm_type)

    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in arrays]
    for t, g in zip(tensors, arrays):
        t.grad = torch.from_numpy(np.array(g))
    expected = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type)
    assert total == pytest.approx(expected.item(), rel=1e-12)
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_total_norm_is_the_norm_of_all_gradients_together():
    arrays = grads(1)
    params = params_with(arrays)
    everything = np.concatenate([g.ravel() for g in arrays])
    total = clip_grad_norm(params, max_norm=1.0)
    assert total == pytest.approx(np.linalg.norm(everything), rel=1e-12)
    clipped = np.concatenate([p.grad.data.ravel() for p in params])
    assert np.linalg.norm(clipped) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(clipped, everything / total, rtol=1e-5)


def test_small_gradients_are_left_as_they_are():
    arrays = grads(2)
    params = params_with(arrays)
    clip_grad_norm(params, max_norm=1e3)
    for p, g in zip(params, arrays):
        np.testing.assert_array_equal(p.grad.data, g)


def test_no_gradients_gives_zero():
    assert clip_grad_norm([cr.Variable(np.ones(3))], 1.0) == 0.0


def test_single_variable_and_float32_gradient_keep_their_dtype():
    p = cr.Variable(np.zeros(2, dtype=np.float32))
    p.grad = cr.Variable(np.array([3.0, 4.0], dtype=np.float32))
    assert clip_grad_norm(p, 1.0) == pytest.approx(5.0)
    assert p.grad.data.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)


def test_gradient_shared_by_two_parameters_is_scaled_once():
    a, b = cr.Variable(np.array([1.0, 2.0])), cr.Variable(np.array([3.0, 4.0]))
    (a + b).sum().backward()  # the engine may hand both the same gradient
    total = clip_grad_norm([a, b], max_norm=1.0)
    assert total == pytest.approx(2.0)
    np.testing.assert_allclose(a.grad.data, [0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(b.grad.data, [0.5, 0.5], rtol=1e-6)


def test_read_only_broadcast_gradient_is_clipped():
    p = cr.Variable(np.zeros(4))
    p.grad = cr.Variable(np.broadcast_to(np.array([2.0]), (4,)))
    assert clip_grad_norm([p], max_norm=2.0) == pytest.approx(4.0)
    np.testing.assert_allclose(p.grad.data, np.ones(4), rtol=1e-6)


def test_clip_grad_value_clamps_each_element_as_torch():
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 4)) * 3, rng.standard_normal(5)]
    params = [cr.Variable(np.zeros_like(a)) for a in arrays]
    for p, a in zip(params, arrays):
        p.grad = cr.Variable(a.copy())
    frozen = cr.Variable(np.zeros(2))
    optim.clip_grad_value_(params + [frozen], 1.5)
    for p, a in zip(params, arrays):
        np.testing.assert_array_equal(p.grad.data, np.clip(a, -1.5, 1.5))
    assert frozen.grad is None
    if torch is not None:
        tensors = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
        for t, a in zip(tensors, arrays):
            t.grad = torch.from_numpy(a.copy())
        torch.nn.utils.clip_grad_value_(tensors, 1.5)
        for p, t in zip(params, tensors):
            np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
    with pytest.raises(ValueError, match="clip_value must be non-negative, got -1"):
        optim.clip_grad_value(params, -1)
    assert optim.clip_grad_norm_ is optim.clip_grad_norm
