"""im2col and col2im with DeZero's signatures: DeZero's exact results, adjoints, gradients."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import check_op, random_array, seeds

kernels = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
strides = st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 3), st.integers(1, 2)))
pads = st.one_of(st.integers(0, 1), st.tuples(st.integers(0, 2), st.integers(0, 1)))


def pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.fixture(scope="module")
def dezero():
    """DeZero's functions_conv, or skip; DeZero 0.0.13 still spells np.int (gone from NumPy 2)
    on import, so np.int is lent to it for that long."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(np, "int", int, raising=False)
        return pytest.importorskip("dezero.functions_conv")


def fits(shape, kernel, pad):
    return all(k <= n + 2 * p for k, n, p in zip(pair(kernel), shape[2:], pair(pad)))


@pytest.mark.parametrize("to_matrix", [True, False])
@given(kernel=kernels, stride=strides, pad=pads, seed=seeds)
def test_im2col_and_col2im_equal_dezero(dezero, to_matrix, kernel, stride, pad, seed):
    shape = (2, 3, 4, 5)
    if not fits(shape, kernel, pad):
        return
    x = random_array(seed, shape)
    col = F.im2col(x, kernel, stride, pad, to_matrix)
    expected = dezero.im2col(x, kernel, stride, pad, to_matrix).data
    np.testing.assert_array_equal(col.data, expected)
    g = random_array(seed + 1, col.shape)
    np.testing.assert_allclose(F.col2im(g, shape, kernel, stride, pad, to_matrix).data,
                               dezero.col2im(g, shape, kernel, stride, pad, to_matrix).data,
                               rtol=1e-12, atol=1e-12)


@given(kernel=kernels, stride=strides, pad=pads, seed=seeds)
def test_matrix_im2col_and_col2im_are_adjoint_and_differentiate_twice(kernel, stride, pad, seed):
    shape = (1, 2, 3, 4)
    if not fits(shape, kernel, pad):
        return
    x = random_array(seed, shape)
    check_op(lambda a: F.im2col(a, kernel, stride, pad), [x])
    col = random_array(seed + 1, F.im2col(x, kernel, stride, pad).shape)
    np.testing.assert_allclose(np.sum(F.im2col(x, kernel, stride, pad).data * col),
                               np.sum(x * F.col2im(col, shape, kernel, stride, pad).data))
    check_op(lambda c: F.col2im(c, shape, kernel, stride, pad), [col])


def test_the_book_convolution_is_a_matrix_product():
    x, W = random_array(0, (2, 3, 5, 5)), random_array(1, (4, 3, 3, 3))
    col = F.im2col(x, 3, stride=2, padding=1)
    y = (col @ W.reshape(4, -1).T).reshape(2, 3, 3, 4).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y.data, F.conv2d(x, cr.Variable(W), stride=2, pad=1).data)


def test_col2im_refuses_columns_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"col2im: col must be \(N·OH·OW, C·KH·KW\) = \(9, 4\)"):
        F.col2im(np.ones((9, 5)), (1, 1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"col2im: input_shape must be \(N, C, H, W\)"):
        F.col2im(np.ones((9, 4)), (4, 4), 2)
    with pytest.raises(TypeError, match="im2col: kernel_size must be an int or a pair"):
        F.im2col(np.ones((1, 1, 4, 4)), (1, 2, 3))
