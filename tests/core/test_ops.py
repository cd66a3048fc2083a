"""The core operations behind Variable's operators, proven against central differences and torch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.core import ops
from harness import broadcast_shapes, check_op, random_array, seeds, shapes, torch

BINARY = [
    (lambda a, b: a + b, np.add),
    (lambda a, b: a - b, np.subtract),
    (lambda a, b: a * b, np.multiply),
    (lambda a, b: a / b, np.divide),
]


@pytest.mark.parametrize("fn, reference", BINARY, ids=["add", "sub", "mul", "div"])
@given(pair=broadcast_shapes(), seed=seeds)
def test_binary_operators_broadcast_and_differentiate_twice(fn, reference, pair, seed):
    a = random_array(seed, pair[0])
    b = random_array(seed + 1, pair[1], 0.5, 2.0)  # away from zero for division
    check_op(fn, [a, b], reference, torch_fn=fn)


@given(shape=shapes(), seed=seeds)
def test_neg_and_power_with_constant_exponent(shape, seed):
    x = random_array(seed, shape, 0.5, 2.0)
    check_op(lambda a: -a, [x], np.negative, torch_fn=lambda a: -a)
    check_op(lambda a: a**3, [x], lambda a: a**3, torch_fn=lambda a: a**3)
    check_op(lambda a: a**-1.5, [x], lambda a: a**-1.5, torch_fn=lambda a: a**-1.5)


@given(pair=broadcast_shapes(), seed=seeds)
def test_power_differentiates_in_base_and_exponent(pair, seed):
    base = random_array(seed, pair[0], 0.5, 2.0)
    exponent = random_array(seed + 1, pair[1], -1.5, 1.5)
    check_op(lambda a, b: a**b, [base, exponent], np.power, torch_fn=lambda a, b: a**b)


@pytest.mark.parametrize("s0, s1", [
    ((3,), (3,)), ((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
    ((3,), (5, 3, 2)), ((5, 2, 3), (3,)), ((1, 2, 3), (4, 3, 2)),
    ((2, 5, 2, 3), (3, 4)), ((2, 1, 2, 3), (5, 3, 4)),
])
def test_matmul_batched_and_vector_cases(s0, s1):
    a, b = random_array(0, s0), random_array(1, s1)
    check_op(lambda x, y: x @ y, [a, b], np.matmul, torch_fn=lambda x, y: x @ y)


def test_matmul_of_a_strided_slice_as_a_users_rnn_loop_takes_it():
    # x[:, t] @ W at every step: a non-contiguous left operand, W's gradient summed over steps
    x, W = random_array(0, (4, 3, 5)), random_array(1, (5, 2))
    check_op(lambda x, W: sum(x[:, t] @ W for t in range(3)), [x, W],
             lambda x, W: sum(x[:, t] @ W for t in range(3)),
             torch_fn=lambda x, W: sum(x[:, t] @ W for t in range(3)))


def test_matmul_mismatch_names_the_operation_and_shapes():
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\) and \(4, 5\)"):
        cr.Variable(np.ones((2, 3))) @ cr.Variable(np.ones((4, 5)))


@given(shape=shapes(min_dims=1), seed=seeds)
def test_sum_over_every_axis_choice(shape, seed):
    x = random_array(seed, shape)
    for axis in [None, 0, -1, tuple(range(len(shape)))]:
        for keepdims in (False, True):
            # Default arguments bind this iteration's axis and keepdims into each lambda.
            def summed(a, axis=axis, keepdims=keepdims):
                return a.sum(axis=axis, keepdims=keepdims)

            check_op(summed, [x], summed,
                     torch_fn=lambda a, axis=axis, keepdims=keepdims: a.sum(
                         dim=tuple(range(a.ndim)) if axis is None else axis, keepdim=keepdims))


def test_sum_to_reduces_broadcast_axes():
    x = random_array(0, (2, 3, 4))
    check_op(lambda a: ops.sum_to(a, (3, 1)), [x], lambda a: a.sum(axis=(0, 2))[:, None])
    check_op(lambda a: ops.sum_to(a, (1, 3, 4)), [x], lambda a: a.sum(axis=0, keepdims=True))


def test_sum_to_refuses_a_shape_that_does_not_broadcast():
    with pytest.raises(ValueError, match="sumto"):
        ops.sum_to(cr.Variable(np.ones((2, 3))), (4,))


@given(shape=shapes(max_dims=3), seed=seeds)
def test_broadcast_to_a_larger_shape(shape, seed):
    x = random_array(seed, shape)
    target = (2,) + tuple(shape)
    check_op(lambda a: a.broadcast_to(target), [x], lambda a: np.broadcast_to(a, target),
             torch_fn=lambda a: a.broadcast_to(target))


@given(shape=shapes(min_dims=1), seed=seeds, data=st.data())
def test_transpose_with_any_permutation(shape, seed, data):
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    x = random_array(seed, shape)
    # a tuple: two separate ints are PyTorch's transpose(dim0, dim1), a swap (test_tensor.py)
    check_op(lambda a: a.transpose(axes), [x], lambda a: a.transpose(axes),
             torch_fn=lambda a: a.permute(*axes))
    check_op(lambda a: a.T, [x], lambda a: a.T)


@given(shape=shapes(min_dims=1), seed=seeds)
def test_reshape_to_flat_and_back(shape, seed):
    x = random_array(seed, shape)
    check_op(lambda a: a.reshape(-1).reshape(shape), [x], lambda a: a)
    check_op(lambda a: a.reshape(-1), [x], np.ravel, torch_fn=lambda a: a.reshape(-1))


@pytest.mark.parametrize("index", [
    1, slice(0, 2), (slice(None), 1), (Ellipsis, 0), np.array([0, 0, 2]),
    (np.array([0, 1, 1]), np.array([2, 2, 0])), np.array([True, False, True]),
])
def test_get_item_scatters_gradient_adding_repeated_indices(index):
    x = random_array(3, (3, 4))
    check_op(lambda a: a[index], [x], lambda a: a[index],
             torch_fn=lambda a: a[tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i
                                        for i in (index if isinstance(index, tuple) else (index,)))]
             if torch is not None else None)


def test_repeated_fancy_index_gradient_counts_each_use():
    x = cr.Variable(np.zeros(3))
    x[np.array([0, 0, 0, 2])].sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 0, 1])


SCALAR_FORMS = [
    (lambda a: a + 2.5, lambda a: a + 2.5), (lambda a: 2.5 + a, lambda a: 2.5 + a),
    (lambda a: a - 2.5, lambda a: a - 2.5), (lambda a: 2.5 - a, lambda a: 2.5 - a),
    (lambda a: a * 2.5, lambda a: a * 2.5), (lambda a: 2.5 * a, lambda a: 2.5 * a),
    (lambda a: a / 2.5, lambda a: a / 2.5), (lambda a: 2.5 / a, lambda a: 2.5 / a),
    (lambda a: a**2.5, lambda a: a**2.5), (lambda a: 2.5**a, lambda a: 2.5**a),
    (lambda a: a * 3 + 1, lambda a: a * 3 + 1),
]


@pytest.mark.parametrize("fn, reference", SCALAR_FORMS)
@given(shape=shapes(), seed=seeds)
def test_python_numbers_on_either_side_differentiate_twice(fn, reference, shape, seed):
    x = random_array(seed, shape, 0.5, 2.0)
    check_op(fn, [x], reference, torch_fn=fn)


@pytest.mark.parametrize("fn, reference", SCALAR_FORMS)
def test_python_numbers_keep_float32(fn, reference):
    x = cr.Variable(np.array([0.5, 1.5], dtype=np.float32))
    y = fn(x)
    assert y.dtype == np.float32
    (gx,) = cr.grad(y.sum(), [x], create_graph=True)
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(y.data, reference(x.data))  # bitwise what NumPy gives


def test_a_python_number_is_kept_by_its_op_not_as_a_variable():
    x = cr.Variable(np.array(3.0))
    y = x * 0.5
    assert len(y.creator.inputs) == 1 and y.creator.name == "mul 0.5"


def slices_and_more(x, w):
    """x (2, 5, 3) -> every step x[:, t] weighted, plus x used whole, plus a fancy pick."""
    h = x * 1.5  # not a leaf: its slices' gradients meet in its creator's inbox
    total = (h * w).sum()
    for t in range(h.shape[1]):
        total = total + (h[:, t] * (t + 1)).sum() + (h[:, t, 1:] ** 2).sum()
    return total + (h[np.array([0, 1, 1]), np.array([4, 0, 0])] * 2).sum()


def test_many_slices_of_one_array_sum_to_the_dense_gradient():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3))
    xv = cr.Variable(x)
    slices_and_more(xv, w).backward()
    h = 1.5 * x
    squares = np.pad(2 * h[:, :, 1:], ((0, 0), (0, 0), (1, 0)))
    expected = w + np.arange(1, 6)[None, :, None] + squares
    expected[0, 4] += 2
    expected[1, 0] += 4
    np.testing.assert_allclose(xv.grad.data, 1.5 * expected)
    cr.gradcheck(lambda a: slices_and_more(a, w), [x], order=2)


def test_slice_gradients_reach_leaves_retained_grads_and_grad():
    x = cr.Variable(np.arange(6.0).reshape(2, 3))
    h = x * 2
    y = h[0].sum() + h[:, 1].sum() * 3
    y.backward(retain_grad=True)
    np.testing.assert_array_equal(h.grad.data, [[1, 4, 1], [0, 3, 0]])
    np.testing.assert_array_equal(x.grad.data, [[2, 8, 2], [0, 6, 0]])
    (gh,) = cr.grad(h[1].sum() + h[1, 2] * 5, [h])
    np.testing.assert_array_equal(gh.data, [[0, 0, 0], [1, 1, 6]])
    leaf = cr.Variable(np.ones((2, 2)))
    (leaf[0] + leaf[0] + leaf[:, 0]).sum().backward()
    np.testing.assert_array_equal(leaf.grad.data, [[3, 2], [1, 0]])


ARRAY_FORMS = [
    lambda x, a: x + a, lambda x, a: a + x, lambda x, a: x - a, lambda x, a: a - x,
    lambda x, a: x * a, lambda x, a: a * x, lambda x, a: x / a, lambda x, a: a / x,
]


@pytest.mark.parametrize("form", ARRAY_FORMS, ids=["add", "radd", "sub", "rsub", "mul", "rmul",
                                                   "div", "rdiv"])
@given(pair=broadcast_shapes(), seed=seeds)
def test_numpy_constants_on_either_side_broadcast_and_differentiate_twice(form, pair, seed):
    x = random_array(seed, pair[0], 0.5, 2.0)
    a = random_array(seed + 1, pair[1], 0.5, 2.0)
    check_op(lambda v: form(v, a), [x], lambda v: form(v, a),
             torch_fn=None if torch is None else lambda t: form(t, torch.tensor(a)))


def test_a_numpy_constant_is_kept_by_its_op_not_as_a_variable():
    x = cr.Variable(np.ones(3, dtype=np.float32))
    a = np.full(3, 2.0, dtype=np.float32)
    for y in (x * a, a * x, x + a, a + x, x - a, a - x, x / a):
        assert len(y.creator.inputs) == 1 and y.creator.inputs[0] is x
        assert y.dtype == np.float32
    y = x * np.ones((2, 3))  # a float64 array promotes as in NumPy; the gradient keeps x's shape
    assert y.dtype == np.float64 and y.shape == (2, 3)
    y.backward()
    assert x.grad.shape == (3,)
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])


def test_a_numpy_constant_that_does_not_broadcast_names_both_shapes():
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(2,\) do not broadcast"):
        cr.Variable(np.ones((2, 3))) * np.ones(2)
