"""Shape operations: values against NumPy, gradients at orders 1 and 2, PyTorch, and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import (
    broadcast_shapes,
    check_op,
    compare_with_torch,
    random_array,
    seeds,
    shapes,
    torch,
)


@given(shape=shapes(min_dims=1), seed=seeds)
def test_reshape_flatten_and_back(shape, seed):
    x = random_array(seed, shape)
    check_op(lambda a: F.reshape(a, (-1,)), [x], lambda a: a.reshape(-1),
             torch_fn=lambda a: a.reshape(-1))
    check_op(lambda a: F.reshape(a, [1, *shape]), [x], lambda a: a.reshape(1, *shape))


@given(shape=shapes(), seed=seeds, data=st.data())
def test_transpose_with_any_permutation(shape, seed, data):
    x = random_array(seed, shape)
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    check_op(lambda a: F.transpose(a, axes), [x], lambda a: a.transpose(axes),
             torch_fn=lambda a: a.permute(axes))
    check_op(F.transpose, [x], np.transpose)


@given(pair=broadcast_shapes(), seed=seeds)
def test_broadcast_to_and_sum_to_undo_each_other(pair, seed):
    target = np.broadcast_shapes(*pair)
    x = random_array(seed, pair[0])
    check_op(lambda a: F.broadcast_to(a, target), [x], lambda a: np.broadcast_to(a, target),
             torch_fn=lambda a: a.broadcast_to(target))
    big = random_array(seed, target)
    check_op(lambda a: F.sum_to(a, pair[0]), [big],
             lambda a: np.sum(a, axis=tuple(range(len(target) - len(pair[0]))))
             .sum(axis=tuple(i for i, n in enumerate(pair[0]) if n == 1), keepdims=True)
             .reshape(pair[0]))


def test_broadcast_to_refuses_an_incompatible_shape():
    with pytest.raises(ValueError, match=r"broadcast_to: shape \(2, 3\) cannot broadcast to \(4,"):
        F.broadcast_to(np.ones((2, 3)), (4, 3))


INDICES = [
    (1,), (slice(1, None),), (Ellipsis, 0), (np.array([0, 2, 0, 0]),),
    (slice(None), np.array([[1, 1], [0, 1]])), (np.array([True, False, True]),),
]


@pytest.mark.parametrize("index", INDICES, ids=[str(i) for i in range(len(INDICES))])
def test_get_item_basic_and_fancy(index):
    x = random_array(0, (3, 2))
    check_op(lambda a: F.get_item(a, index), [x], lambda a: a[index],
             torch_fn=lambda a: a[tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i
                                        for i in index)])


def test_get_item_accumulates_repeated_indices():
    x = cr.Variable(np.arange(4.0))
    F.get_item(x, np.array([1, 1, 3, 1])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 3.0, 0.0, 1.0])
    x.cleargrad()
    F.get_item(x, cr.Variable(np.array([0, 0]))).sum().backward()  # a Variable index too
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_along_an_axis(axis):
    sizes = [1, 3, 2]
    parts = [random_array(i, (2, 2, 2)[:axis % 3] + (n,) + (2, 2, 2)[axis % 3 + 1:])
             for i, n in enumerate(sizes)]
    check_op(lambda *xs: F.concat(xs, axis), parts, lambda *xs: np.concatenate(xs, axis),
             torch_fn=lambda *xs: torch.cat(xs, axis))


def test_concat_gives_no_gradient_to_constant_parts():
    x = cr.Variable(np.ones((2, 2)))
    F.concat([np.zeros((1, 2)), x], axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 2)))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_along_a_new_axis(axis):
    parts = [random_array(i, (2, 3)) for i in range(3)]
    check_op(lambda *xs: F.stack(xs, axis), parts, lambda *xs: np.stack(xs, axis),
             torch_fn=lambda *xs: torch.stack(xs, axis))


def test_concat_and_stack_errors_name_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"concat: shapes \(2, 3\) and \(2, 4\) differ off axis 0"):
        F.concat([np.ones((2, 3)), np.ones((2, 4))], axis=0)
    with pytest.raises(ValueError, match=r"stack: shapes \(2, 3\) and \(3, 2\) differ"):
        F.stack([np.ones((2, 3)), np.ones((3, 2))])
    with pytest.raises(ValueError, match="concat: axis 2 is out of range"):
        F.concat([np.ones((2, 3))], axis=2)
    with pytest.raises(TypeError, match="concat: expects a list or tuple"):
        F.concat(np.ones((2, 3)))
    with pytest.raises(ValueError, match="stack: needs at least one array"):
        F.stack([])


@given(shapes3=broadcast_shapes(num_shapes=3), seed=seeds)
def test_where_broadcasts_condition_and_both_branches(shapes3, seed):
    condition = random_array(seed, shapes3[0]) > 0
    x0, x1 = random_array(seed + 1, shapes3[1]), random_array(seed + 2, shapes3[2])
    check_op(lambda a, b: F.where(condition, a, b), [x0, x1],
             lambda a, b: np.where(condition, a, b),
             torch_fn=lambda a, b: torch.where(torch.as_tensor(condition), a, b))


def test_where_takes_a_boolean_variable_and_a_number():
    condition = cr.Variable(np.array([True, False, True]))
    x = cr.Variable(np.array([1.0, 2.0, 3.0]))
    y = F.where(condition, x, 0.0)
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0])
    assert condition.grad is None


@given(shape=shapes(min_dims=2, max_dims=4), seed=seeds)
def test_flatten_keeps_the_batch_axis(shape, seed):
    x = random_array(seed, shape)
    check_op(F.flatten, [x], lambda a: a.reshape(a.shape[0], -1),
             torch_fn=lambda a: torch.flatten(a, 1))


def test_flatten_of_an_empty_batch_and_of_a_vector():
    assert F.flatten(np.ones((0, 3, 4))).shape == (0, 12)
    assert F.flatten(np.ones(5)).shape == (5, 1)
    with pytest.raises(ValueError, match=r"flatten: needs at least one axis, got shape \(\)"):
        F.flatten(np.float64(1.0))


@given(shape=shapes(), seed=seeds, data=st.data())
def test_expand_dims_then_squeeze(shape, seed, data):
    x = random_array(seed, shape)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(lambda a: F.expand_dims(a, axis), [x], lambda a: np.expand_dims(a, axis),
             torch_fn=lambda a: torch.unsqueeze(a, axis))
    y = np.expand_dims(x, axis)
    check_op(lambda a: F.squeeze(a, axis), [y], lambda a: np.squeeze(a, axis))
    check_op(F.squeeze, [y], np.squeeze)


def test_squeeze_refuses_an_axis_longer_than_one():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 of shape \(1, 3\) has length 3"):
        F.squeeze(np.ones((1, 3)), axis=1)
    with pytest.raises(ValueError, match=r"expand_dims: axis 3 is out of range for shape \(2,\)"):
        F.expand_dims(np.ones(2), 3)


def test_reshape_to_a_wrong_size_names_the_operation_and_shape():
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 3\)"):
        F.reshape(np.ones((2, 3)), (4,))


def test_shape_functions_differentiate_against_torch_in_a_chain():
    x = random_array(5, (2, 3, 4))
    compare_with_torch(
        lambda a: F.stack([F.flatten(a), F.flatten(F.transpose(a, (0, 2, 1)))], axis=1),
        lambda a: torch.stack([a.flatten(1), a.permute(0, 2, 1).flatten(1)], 1), [x])
