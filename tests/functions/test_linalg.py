"""matmul and linear: batched shapes, gradients at orders 1 and 2, PyTorch, and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import check_op, random_array, seeds


@pytest.mark.parametrize("s0, s1", [
    ((3,), (3,)), ((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 2)),
])
def test_matmul_batched_shapes(s0, s1):
    a, b = random_array(0, s0), random_array(1, s1)
    check_op(F.matmul, [a, b], np.matmul, torch_fn=lambda x, y: x @ y)


def test_matmul_accepts_arrays():
    a, b = random_array(0, (2, 3)), random_array(1, (3, 4))
    np.testing.assert_allclose(F.matmul(a, b).data, a @ b)
    w = cr.Variable(b)
    F.matmul(a, w).sum().backward()
    np.testing.assert_allclose(w.grad.data, a.T @ np.ones((2, 4)))


def test_matmul_mismatch_names_the_function_and_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        F.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(\) and \(3,\)"):
        F.matmul(cr.Variable(np.float64(2.0)), np.ones(3))


@given(batch=st.sampled_from([(), (4,), (2, 3)]), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear_on_batches_of_any_rank(batch, n_in, n_out, bias, seed):
    x = random_array(seed, batch + (n_in,))
    W = random_array(seed + 1, (n_in, n_out))
    if bias:
        b = random_array(seed + 2, (n_out,))
        check_op(F.linear, [x, W, b], lambda x, W, b: x @ W + b,
                 torch_fn=lambda x, W, b: x @ W + b)
    else:
        check_op(F.linear, [x, W], lambda x, W: x @ W, torch_fn=lambda x, W: x @ W)


def test_linear_is_one_function_and_skips_the_input_gradient_of_data():
    x = random_array(0, (5, 3))
    W = cr.Variable(random_array(1, (3, 2)))
    b = cr.Variable(np.zeros(2))
    y = F.linear(x, W, b)
    assert type(y.creator).__name__ == "Linear"
    assert y.creator.backward(cr.Variable(np.ones((5, 2))))[0] is None  # x is data
    y.sum().backward()
    np.testing.assert_allclose(W.grad.data, x.T @ np.ones((5, 2)))
    np.testing.assert_allclose(b.grad.data, [5.0, 5.0])


def test_linear_errors_name_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"linear: x of shape \(2, 3\) does not fit W of shape "
                                         r"\(4, 5\)"):
        F.linear(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"linear: b of shape \(4,\) does not fit W of shape "
                                         r"\(3, 5\)"):
        F.linear(np.ones((2, 3)), np.ones((3, 5)), np.ones(4))
