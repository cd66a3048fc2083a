"""Class losses: values against NumPy and PyTorch, gradients at orders 1 and 2, edges, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import check_op, random_array, seeds, shapes, torch


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


# ---- torch's names: cross_entropy, nll_loss, kl_div ------------------------------------

def np_log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def np_reduce(per, reduction, divisor):
    with np.errstate(invalid="ignore"):  # nothing counted: 0 / 0 = nan, as torch
        return {"none": per, "sum": per.sum(), "mean": per.sum() / divisor}[reduction]


def np_nll(logp, t, w=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """torch's formulas for class-index targets, written out per position."""
    c = logp.shape[1]
    w = np.ones(c) if w is None else w
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    nll = -w[safe] * picked * keep
    smooth = -(logp * w.reshape((1, c) + (1,) * (logp.ndim - 2))).sum(axis=1) * keep
    per = (1 - smoothing) * nll + smoothing / c * smooth
    return np_reduce(per, reduction, (w[safe] * keep).sum())


def np_soft_cross_entropy(x, p, w=None, reduction="mean", smoothing=0.0):
    c = x.shape[1]
    p = p * (1 - smoothing) + smoothing / c
    w = np.ones(c) if w is None else w
    per = -(np_log_softmax(x) * p * w.reshape((1, c) + (1,) * (x.ndim - 2))).sum(axis=1)
    return np_reduce(per, reduction, x.size // c)


def class_problem(seed, shape, ignore_share=0.0):
    """Logits (N, C, ...), index targets with some ignored, and class weights."""
    rng = np.random.default_rng(seed)
    x = random_array(seed, shape, -3.0, 3.0)
    t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    t[rng.random(t.shape) < ignore_share] = -100
    return x, t, rng.uniform(0.2, 2.0, size=shape[1])


class_shapes = st.sampled_from([(3, 4), (2, 3, 2), (2, 3, 2, 2), (1, 1), (4, 2)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.0), (False, 0.2),
                                                 (True, 0.3)])
@settings(max_examples=8)  # many variants: fewer shapes each
@given(shape=class_shapes, seed=seeds)
def test_cross_entropy_with_index_targets(reduction, weighted, smoothing, shape, seed):
    x, t, w = class_problem(seed, shape, ignore_share=0.3)
    w = w if weighted else None
    options = dict(reduction=reduction, label_smoothing=smoothing)
    check_op(lambda a: F.cross_entropy(a, t, w, **options), [x],
             lambda a: np_nll(np_log_softmax(a), t, w, -100, reduction, smoothing),
             torch_fn=lambda a: torch.nn.functional.cross_entropy(
                 a, torch.as_tensor(t), None if w is None else torch.as_tensor(w), **options))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.25)])
@settings(max_examples=8)  # many variants: fewer shapes each
@given(shape=class_shapes, seed=seeds)
def test_cross_entropy_with_probability_targets(reduction, weighted, smoothing, shape, seed):
    x, _, w = class_problem(seed, shape)
    p = np.exp(np_log_softmax(random_array(seed + 1, shape)))
    w = w if weighted else None
    options = dict(reduction=reduction, label_smoothing=smoothing)
    check_op(lambda a: F.cross_entropy(a, p, w, **options), [x],
             lambda a: np_soft_cross_entropy(a, p, w, reduction, smoothing),
             torch_fn=lambda a: torch.nn.functional.cross_entropy(
                 a, torch.as_tensor(p), None if w is None else torch.as_tensor(w), **options))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(shape=class_shapes, seed=seeds)
def test_nll_loss_with_weights_and_ignored_positions(reduction, shape, seed):
    x, t, w = class_problem(seed, shape, ignore_share=0.3)
    t[t == -100] = 1 % shape[1]  # this time ignore class 1 instead
    options = dict(ignore_index=1 % shape[1], reduction=reduction)
    check_op(lambda a: F.nll_loss(a, t, w, **options), [x],
             lambda a: np_nll(a, t, w, 1 % shape[1], reduction),
             torch_fn=lambda a: torch.nn.functional.nll_loss(a, torch.as_tensor(t),
                                                             torch.as_tensor(w), **options))


def test_cross_entropy_equals_nll_of_log_softmax_and_softmax_cross_entropy():
    x, t, w = class_problem(1, (5, 3))
    ce = F.cross_entropy(x, t, w)
    np.testing.assert_allclose(ce.data, F.nll_loss(F.log_softmax(x, axis=1), t, w).data)
    np.testing.assert_allclose(F.cross_entropy(x, t).data, F.softmax_cross_entropy(x, t).data)


def test_cross_entropy_when_every_target_is_ignored_is_nan_with_zero_gradients():
    x = cr.Variable(random_array(0, (3, 4)))
    t = np.full(3, -100)
    loss = F.cross_entropy(x, t)
    loss.backward()
    assert np.isnan(loss.data)  # 0 / 0, as torch
    np.testing.assert_array_equal(x.grad.data, np.zeros((3, 4)))  # as torch
    np.testing.assert_array_equal(F.cross_entropy(x, t, reduction="none").data, np.zeros(3))
    assert F.cross_entropy(x, t, reduction="sum").data == 0.0


def test_cross_entropy_of_one_unbatched_sample():
    x = random_array(2, (4,))
    assert F.cross_entropy(x, np.array(2)).shape == ()
    np.testing.assert_allclose(F.cross_entropy(x, np.array(2), reduction="none").data,
                               -np_log_softmax(x[None])[0, 2])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(F.cross_entropy(x, p).data,
                               -(np_log_softmax(x[None])[0] * p).sum())


def test_cross_entropy_is_stable_and_keeps_float32():
    x = cr.Variable(np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(x, np.array([1]), label_smoothing=0.1)
        loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.all(np.isfinite(x.grad.data))


def test_class_loss_errors_name_the_op_and_the_values():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="cross_entropy: target 3 is out of bounds for 3"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"nll_loss: input of shape \(2, 3\) needs class"):
        F.nll_loss(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="nll_loss: class-index targets must be integers"):
        F.nll_loss(x, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(2,\) does not"):
        F.cross_entropy(x, np.array([0, 1]), np.ones(2))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be one of"):
        F.cross_entropy(x, np.array([0, 1]), reduction="batchmean")
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"probability targets must have input's shape"):
        F.cross_entropy(x, np.zeros((2, 4)))


def np_kl_div(x, t, reduction, log_target):
    if log_target:
        pointwise = np.exp(t) * (t - x)
    else:
        pointwise = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0) - t * x
    if reduction == "batchmean":
        return pointwise.sum() / x.shape[0]
    return np_reduce(pointwise, reduction, pointwise.size)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
@settings(max_examples=8)  # many variants: fewer shapes each
@given(shape=shapes(min_dims=1), seed=seeds)
def test_kl_div_gradients_of_input_and_target(reduction, log_target, shape, seed):
    x = random_array(seed, shape, -3.0, 0.0)
    t = random_array(seed + 1, shape, -3.0, 0.0) if log_target else random_array(
        seed + 1, shape, 0.1, 1.0)
    options = dict(reduction=reduction, log_target=log_target)
    check_op(lambda a, b: F.kl_div(a, b, **options), [x, t],
             lambda a, b: np_kl_div(a, b, reduction, log_target),
             torch_fn=lambda a, b: torch.nn.functional.kl_div(a, b, **options))


def test_kl_div_of_a_zero_target_is_zero_not_nan():
    x = cr.Variable(np.log(np.array([[0.5, 0.5]])))
    loss = F.kl_div(x, np.array([[1.0, 0.0]]), reduction="sum")
    loss.backward()
    np.testing.assert_allclose(loss.data, -np.log(0.5))
    np.testing.assert_array_equal(x.grad.data, [[-1.0, 0.0]])
