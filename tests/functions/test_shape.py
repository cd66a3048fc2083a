"""Shape operations: values against NumPy, gradients at orders 1 and 2, PyTorch, and errors."""

import numpy as np
import pytest
from edge_rows import sprinkled
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
@pytest.mark.usefixtures("bit_select")  # backend.where's bit-select on small arrays too
def test_where_broadcasts_condition_and_both_branches(shapes3, seed):
    condition = random_array(seed, shapes3[0]) > 0
    x0, x1 = random_array(seed + 1, shapes3[1]), random_array(seed + 2, shapes3[2])
    check_op(lambda a, b: F.where(condition, a, b), [x0, x1],
             lambda a, b: np.where(condition, a, b),
             torch_fn=lambda a, b: torch.where(torch.as_tensor(condition), a, b))


def test_where_on_large_arrays_is_numpys_where_byte_for_byte():
    """F.where and its gradients take backend.where's bit-select on large arrays: the same
    bytes as NumPy's where, NaN payloads, -0.0 and ±inf included, broadcasting too."""
    condition = sprinkled((5000, 2)) > 0
    x0, x1 = sprinkled((5000, 2), seed=1).astype(np.float32), sprinkled((1, 2), seed=2)
    x1 = x1.astype(np.float32)
    gy = sprinkled((5000, 2), seed=3).astype(np.float32)
    y = F.where(condition, x0, -0.0)
    assert y.data.tobytes() == np.where(condition, x0, np.float32(-0.0)).tobytes()
    a, b = cr.Variable(x0), cr.Variable(x1)
    y = F.where(condition, a, b)
    assert y.data.tobytes() == np.where(condition, x0, x1).tobytes()
    y.backward(cr.Variable(gy))
    zero = np.float32(0)
    assert a.grad.data.tobytes() == np.where(condition, gy, zero).tobytes()
    np.testing.assert_allclose(b.grad.data, np.where(condition, zero, gy).sum(0, keepdims=True))


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


def check_pieces(pieces_fn, torch_pieces, x):
    """Each piece's values and gradients against torch, and all pieces together (concat)."""
    check_op(lambda a: F.concat(list(pieces_fn(a)), axis=0) if x.ndim else a, [x],
             lambda a: a)
    for i in range(len(pieces_fn(x))):
        check_piece(pieces_fn, torch_pieces, x, i)


def check_piece(pieces_fn, torch_pieces, x, i):
    check_op(lambda a: pieces_fn(a)[i] * 2.0, [x],
             torch_fn=None if torch is None else lambda a: torch_pieces(a)[i] * 2.0)


@given(shape=shapes(min_dims=1), size=st.integers(1, 5), seed=seeds, data=st.data())
def test_split_by_size_and_by_sections_as_torch(shape, size, seed, data):
    x = random_array(seed, shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    pieces = F.split(x, size, dim)
    expected = np.split(x, range(size, shape[dim], size), axis=dim)
    assert [p.shape for p in pieces] == [e.shape for e in expected]
    for p, e in zip(pieces, expected):
        np.testing.assert_array_equal(p.data, e)
    sections = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    sections[-1] += shape[dim] - sum(sections)
    if sections[-1] < 0:
        return
    check_split(x, sections, dim)


def check_split(x, sections, dim):
    x0 = x if dim % x.ndim == 0 else np.moveaxis(x, dim, 0)
    check_pieces(lambda a: F.split(a, sections, 0), lambda a: torch.split(a, sections, 0), x0)


@given(shape=shapes(min_dims=1), chunks=st.integers(1, 5), seed=seeds)
def test_chunk_as_torch_may_give_fewer_pieces(shape, chunks, seed):
    x = random_array(seed, shape)
    pieces = F.chunk(x, chunks, dim=0)
    if torch is not None:
        expected = torch.chunk(torch.tensor(x), chunks, 0)
        assert [p.shape for p in pieces] == [tuple(e.shape) for e in expected]
    assert sum(p.shape[0] for p in pieces) == shape[0]
    check_pieces(lambda a: F.chunk(a, chunks), lambda a: torch.chunk(a, chunks), x)


def test_an_unused_piece_gets_a_zero_gradient():
    x = cr.Variable(np.arange(6.0))
    a, _, c = F.split(x, [2, 1, 3])
    (a.sum() + 2 * c.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [1, 1, 0, 2, 2, 2])
    assert isinstance(F.split(x, 6), tuple) and len(F.chunk(x, 1)) == 1


def test_split_errors():
    with pytest.raises(ValueError, match=r"split: sections \[2, 2\] do not add up to 5"):
        F.split(np.ones(5), [2, 2])
    with pytest.raises(ValueError, match=r"chunk: dim 1 is out of range for shape \(5,\)"):
        F.chunk(np.ones(5), 2, dim=1)
    with pytest.raises(ValueError, match="split: split_size must be positive, got 0"):
        F.split(np.ones(5), 0)


PADS = [(1, 2), (0, 1, 2, 0), (2, 1, 1, 1, 1, 0)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("widths", PADS)
@given(seed=seeds)
def test_pad_with_torch_widths_last_axis_first(mode, widths, seed):
    x = random_array(seed, (2, 3, 4))
    options = dict(mode=mode, value=0.5) if mode == "constant" else dict(mode=mode)
    numpy_widths = [(0, 0)] * (3 - len(widths) // 2) + [
        (widths[i], widths[i + 1]) for i in range(0, len(widths), 2)][::-1]
    numpy_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    numpy_options = dict(constant_values=0.5) if mode == "constant" else {}
    torch_fn = None
    if torch is not None and (mode == "constant" or len(widths) < 6):  # torch: ≤ 2 axes (3-D)
        torch_fn = lambda a: torch.nn.functional.pad(a, widths, **options)  # noqa: E731
    check_op(lambda a: F.pad(a, widths, **options), [x],
             lambda a: np.pad(a, numpy_widths, mode=numpy_mode, **numpy_options),
             torch_fn=torch_fn)
    np.testing.assert_array_equal(F.pad(x, numpy_widths, **options).data,
                                  F.pad(x, widths, **options).data)  # NumPy's pairs alike


def test_constant_pad_with_negative_widths_crops_as_torch():
    x = random_array(0, (3, 5))
    check_op(lambda a: F.pad(a, (-1, 2, 1, -2)), [x],
             lambda a: np.pad(a[:1, 1:], ((1, 0), (0, 2))),
             torch_fn=lambda a: torch.nn.functional.pad(a, (-1, 2, 1, -2)))


def test_pad_errors_name_the_widths_and_shape():
    with pytest.raises(ValueError, match=r"pad: reflect padding of \(3, 0\) does not fit axis 1"):
        F.pad(np.ones((2, 3)), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: expects torch's flat"):
        F.pad(np.ones((2, 3)), (1, 1, 1))
    with pytest.raises(ValueError, match="pad: NumPy-style pad widths need one"):
        F.pad(np.ones((2, 3)), ((1, 1),))
    with pytest.raises(ValueError, match="pad: mode must be"):
        F.pad(np.ones((2, 3)), (1, 1), mode="wrap")
