"""embedding against W[ids], central differences and torch; repeated ids accumulate."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from chainrule.functions.embedding import embedding
from harness import check_op, random_array, seeds, shapes, torch


@given(ids_shape=shapes(min_dims=0, max_dims=2), num=st.integers(1, 4),
       dim=st.integers(1, 3), seed=seeds)
def test_embedding_picks_rows_matches_torch_and_differentiates_twice(ids_shape, num, dim, seed):
    ids = np.random.default_rng(seed).integers(0, num, size=ids_shape)
    W = random_array(seed, (num, dim))
    check_op(lambda ids, W: embedding(ids, W), [ids, W], lambda ids, W: W[ids],
             torch_fn=lambda ids, W: torch.nn.functional.embedding(ids, W))


def test_repeated_ids_accumulate_their_gradients():
    W = cr.Variable(random_array(0, (4, 2)))
    embedding([[1, 3], [1, 1]], W).backward()
    np.testing.assert_array_equal(W.grad.data, [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_gradient_is_differentiable_in_the_output_gradient():
    ids = np.array([0, 2, 2])
    W = random_array(0, (3, 2))

    def weight_grad(gy):
        Wv = cr.Variable(W)
        (gW,) = cr.grad(embedding(ids, Wv), [Wv], grad_outputs=[gy], create_graph=True)
        return gW * gW

    # grad_output given: gradcheck would otherwise probe the output shape under no_grad
    cr.gradcheck(weight_grad, [random_array(1, (3, 2))], grad_output=random_array(2, W.shape),
                 order=2)


def test_embedding_keeps_float32_and_accepts_variable_ids():
    W = cr.Variable(np.ones((5, 3), np.float32))
    y = embedding(cr.Variable(np.array([4, 0]), requires_grad=False), W)
    y.backward(np.ones(y.shape, np.float32))
    assert y.shape == (2, 3) and y.dtype == W.grad.dtype == np.float32


def test_embedding_rejects_bad_ids_and_weights():
    W = cr.Variable(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"embedding: ids must lie in \[0, 3\) .*\(3, 2\).* 3"):
        embedding(np.array([0, 3]), W)
    with pytest.raises(ValueError, match=r"embedding: ids must lie in \[0, 3\)"):
        embedding(np.array([-1]), W)
    with pytest.raises(TypeError, match=r"embedding: ids must be integers, got dtype float64"):
        embedding(np.array([0.0]), W)
    with pytest.raises(ValueError, match=r"embedding: W must be \(num, dim\), got shape \(3,\)"):
        embedding(np.array([0]), cr.Variable(np.ones(3)))


@given(shape=shapes(min_dims=0, max_dims=2), classes=st.integers(1, 4), seed=seeds)
def test_one_hot_equals_torch_and_needs_no_gradient(shape, classes, seed):
    t = np.random.default_rng(seed).integers(0, classes, size=shape)
    y = F.one_hot(t, classes)
    assert y.dtype == np.int64 and not y.requires_grad and y.shape == shape + (classes,)
    np.testing.assert_array_equal(y.data, np.eye(classes, dtype=np.int64)[t])
    if torch is not None:
        np.testing.assert_array_equal(
            y.data, torch.nn.functional.one_hot(torch.as_tensor(t), classes).numpy())
        np.testing.assert_array_equal(
            F.one_hot(cr.Variable(t)).data,
            torch.nn.functional.one_hot(torch.as_tensor(t)).numpy())


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: class indices must lie in \[0, 3\), got"):
        F.one_hot(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match="one_hot: class indices must be integers"):
        F.one_hot(np.array([0.0]))
    with pytest.raises(ValueError, match="one_hot: cannot infer num_classes"):
        F.one_hot(np.array([], dtype=int))
