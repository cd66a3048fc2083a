"""matmul, linear, einsum, norms, normalize, cosine_similarity: gradients at orders 1 and 2,
NumPy and PyTorch, and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import broadcast_shapes, check_op, compare_with_torch, random_array, seeds, torch


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


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("aB,Ca", [(2, 3), (4, 2)]),  # implicit output, letters sorted as NumPy sorts them
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ii->i", [(3, 3)]),  # a diagonal
    ("ii", [(3, 3)]),  # the trace
    ("iij->j", [(2, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ijk,k->i", [(2, 3, 4), (4,)]),  # j only in one operand: summed, broadcast back
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),  # ellipsis, broadcast in it
    ("...i,i", [(2, 3), (3,)]),
    ("i...->...", [(3, 2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("ii,ij->j", [(2, 2), (2, 3)]),
]


@pytest.mark.parametrize("equation, shape_list", EINSUMS)
def test_einsum_equals_numpy_and_torch_with_gradients(equation, shape_list):
    arrays = [random_array(i, s) for i, s in enumerate(shape_list)]
    check_op(lambda *xs: F.einsum(equation, *xs), arrays,
             lambda *xs: np.einsum(equation, *xs),
             torch_fn=lambda *xs: torch.einsum(equation, *xs))


def test_a_large_einsum_takes_numpy_s_optimized_path_with_the_same_results():
    a, b = cr.Variable(random_array(0, (8, 32, 40))), cr.Variable(random_array(1, (8, 40, 32)))
    y = F.einsum("bij,bjk->bik", a, b)
    gy = random_array(2, y.shape)
    y.backward(cr.Variable(gy))
    np.testing.assert_allclose(y.data, a.data @ b.data)
    np.testing.assert_allclose(a.grad.data, gy @ b.data.transpose(0, 2, 1))
    np.testing.assert_allclose(b.grad.data, a.data.transpose(0, 2, 1) @ gy)


def test_einsum_accepts_a_list_of_operands_and_plain_arrays():
    a, b = random_array(0, (2, 3)), random_array(1, (3,))
    np.testing.assert_allclose(F.einsum("ij,j->i", [a, b]).data, a @ b)
    w = cr.Variable(b)
    F.einsum("ij,j", a, w).sum().backward()
    np.testing.assert_allclose(w.grad.data, a.sum(axis=0))


def test_einsum_errors_name_the_equation():
    with pytest.raises(ValueError, match="einsum: 'ij,jk' names 2 operands, got 1"):
        F.einsum("ij,jk", np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ijk' do not fit .* \(2, 2\)"):
        F.einsum("ijk->i", np.ones((2, 2)))
    with pytest.raises(ValueError, match="einsum: output 'ii' repeats a letter"):
        F.einsum("ij->ii", np.ones((2, 2)))
    with pytest.raises(ValueError, match="einsum: subscripts must be letters"):
        F.einsum("i1->i", np.ones((2, 2)))


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, np.inf])
@given(seed=seeds)
def test_vector_norm_of_each_order(ord, seed):
    x = random_array(seed, (3, 4))
    # clear of |x|'s kink at 0, with distinct stand-ins: a tie at the largest |x| is the inf
    # norm's kink, where central differences and the subgradient disagree
    x = np.where(np.abs(x) < 0.1, 0.3 + 0.01 * np.arange(x.size).reshape(x.shape), x)
    check_op(lambda a: F.vector_norm(a, ord, axis=1), [x],
             lambda a: np.linalg.norm(a, ord, axis=1),
             torch_fn=lambda a: torch.linalg.vector_norm(a, ord, dim=1))


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
@given(seed=seeds)
def test_normalize_as_torch(p, dim, seed):
    x = random_array(seed, (3, 4, 2))
    x = np.where(np.abs(x) < 0.1, 0.3, x)

    def reference(a):
        return a / np.maximum(np.linalg.norm(a, p, axis=dim, keepdims=True), 1e-12)

    check_op(lambda a: F.normalize(a, p, dim), [x], reference,
             torch_fn=lambda a: torch.nn.functional.normalize(a, p, dim))


@given(pair=broadcast_shapes(min_dims=2), seed=seeds)
def test_cosine_similarity_broadcasts_as_torch(pair, seed):
    x1, x2 = random_array(seed, pair[0]), random_array(seed + 1, pair[1])

    def reference(a, b):
        a, b = np.broadcast_arrays(a, b)
        na, nb = (np.maximum(np.linalg.norm(v, axis=1), 1e-8) for v in (a, b))
        return (a * b).sum(axis=1) / (na * nb)

    check_op(F.cosine_similarity, [x1, x2], reference,
             torch_fn=lambda a, b: torch.nn.functional.cosine_similarity(a, b))


def test_zero_vectors_follow_torch():
    zeros, ones = np.zeros((2, 3)), np.ones((2, 3))
    z = cr.Variable(zeros)
    F.normalize(z).sum().backward()  # 1 / eps: the clamp, not the norm, decides
    np.testing.assert_allclose(z.grad.data, np.full((2, 3), 1e12))
    compare_with_torch(lambda a, b: F.cosine_similarity(a, b),
                       lambda a, b: torch.nn.functional.cosine_similarity(a, b),
                       [zeros, ones], rtol=1e-6, atol=1e-3)
    compare_with_torch(lambda a: F.vector_norm(a, 2, axis=1),
                       lambda a: torch.linalg.vector_norm(a, 2, dim=1), [zeros])
