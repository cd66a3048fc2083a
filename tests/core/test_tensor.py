"""Variable's array methods: each against NumPy, gradcheck orders 1–2, and torch's same method."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from harness import check_op, compare_with_torch, random_array, seeds, shapes, torch


def general(seed, shape=(2, 3, 4)):
    return random_array(seed, shape)


def positive(seed, shape=(2, 3, 4)):
    return random_array(seed, shape, 0.5, 2.0)


def away_from_zero(seed, shape=(2, 3, 4)):
    """Values with |x| ≥ 0.25, so kinks at 0 (abs, relu) stay out of finite differences."""
    x = random_array(seed, shape)
    return np.where(np.abs(x) < 0.25, 0.5, x)


# name: (method call, torch's call, NumPy reference, input)
METHODS = {
    "mean": (lambda x: x.mean(), lambda t: t.mean(), np.mean, general),
    "mean_dim": (lambda x: x.mean(dim=1, keepdim=True), lambda t: t.mean(dim=1, keepdim=True),
                 lambda a: a.mean(axis=1, keepdims=True), general),
    "mean_axes": (lambda x: x.mean(axis=(0, 2)), lambda t: t.mean(dim=(0, 2)),
                  lambda a: a.mean(axis=(0, 2)), general),
    "sum_dim": (lambda x: x.sum(dim=-1), lambda t: t.sum(dim=-1),
                lambda a: a.sum(axis=-1), general),
    "max_axis": (lambda x: x.max(axis=1), lambda t: t.amax(dim=1),
                 lambda a: a.max(axis=1), general),
    "max_dim": (lambda x: x.max(dim=1).values, lambda t: t.max(dim=1).values,
                lambda a: a.max(axis=1), general),
    "min_dim_keepdim": (lambda x: x.min(dim=0, keepdim=True)[0],
                        lambda t: t.min(dim=0, keepdim=True)[0],
                        lambda a: a.min(axis=0, keepdims=True), general),
    "max_all": (lambda x: x.max(), lambda t: t.max(), np.max, general),
    "exp": (lambda x: x.exp(), lambda t: t.exp(), np.exp, general),
    "log": (lambda x: x.log(), lambda t: t.log(), np.log, positive),
    "sqrt": (lambda x: x.sqrt(), lambda t: t.sqrt(), np.sqrt, positive),
    "abs": (lambda x: x.abs(), lambda t: t.abs(), np.abs, away_from_zero),
    "tanh": (lambda x: x.tanh(), lambda t: t.tanh(), np.tanh, general),
    "sigmoid": (lambda x: x.sigmoid(), lambda t: t.sigmoid(),
                lambda a: 1 / (1 + np.exp(-a)), general),
    "relu": (lambda x: x.relu(), lambda t: t.relu(), lambda a: np.maximum(a, 0),
             away_from_zero),
    "softmax": (lambda x: x.softmax(dim=1), lambda t: t.softmax(dim=1),
                lambda a: np.exp(a) / np.exp(a).sum(axis=1, keepdims=True), general),
    "log_softmax": (lambda x: x.log_softmax(-1), lambda t: t.log_softmax(-1),
                    lambda a: a - np.log(np.exp(a).sum(axis=-1, keepdims=True)), general),
    "pow": (lambda x: x.pow(3), lambda t: t.pow(3), lambda a: a**3, general),
    "pow_fraction": (lambda x: x.pow(1.5), lambda t: t.pow(1.5), lambda a: a**1.5, positive),
    "clip": (lambda x: x.clip(-0.5, 0.7), lambda t: t.clip(-0.5, 0.7),
             lambda a: np.clip(a, -0.5, 0.7), general),
    "clamp_min": (lambda x: x.clamp(min=0.1), lambda t: t.clamp(min=0.1),
                  lambda a: np.maximum(a, 0.1), general),
    "view": (lambda x: x.view(x.size(0), -1), lambda t: t.view(t.size(0), -1),
             lambda a: a.reshape(2, 12), general),
    "reshape": (lambda x: x.reshape(4, 6), lambda t: t.reshape(4, 6),
                lambda a: a.reshape(4, 6), general),
    "flatten": (lambda x: x.flatten(), lambda t: t.flatten(), np.ravel, general),
    "flatten_1": (lambda x: x.flatten(1), lambda t: t.flatten(1),
                  lambda a: a.reshape(2, 12), general),
    "flatten_0_1": (lambda x: x.flatten(0, 1), lambda t: t.flatten(0, 1),
                    lambda a: a.reshape(6, 4), general),
    "unsqueeze": (lambda x: x.unsqueeze(1), lambda t: t.unsqueeze(1),
                  lambda a: a[:, None], general),
    "unsqueeze_last": (lambda x: x.unsqueeze(-1), lambda t: t.unsqueeze(-1),
                       lambda a: a[..., None], general),
    "squeeze": (lambda x: x[:, :1].squeeze(), lambda t: t[:, :1].squeeze(),
                lambda a: a[:, 0], general),
    "squeeze_dim": (lambda x: x[:, :1].squeeze(dim=1), lambda t: t[:, :1].squeeze(dim=1),
                    lambda a: a[:, 0], general),
    "permute": (lambda x: x.permute(2, 0, 1), lambda t: t.permute(2, 0, 1),
                lambda a: a.transpose(2, 0, 1), general),
    "permute_tuple": (lambda x: x.permute((1, 0, 2)), lambda t: t.permute((1, 0, 2)),
                      lambda a: a.transpose(1, 0, 2), general),
    "transpose_two_ints": (lambda x: x.transpose(1, 2), lambda t: t.transpose(1, 2),
                           lambda a: a.swapaxes(1, 2), general),
    "transpose_order": (lambda x: x.transpose((2, 0, 1)), lambda t: t.permute(2, 0, 1),
                        lambda a: a.transpose((2, 0, 1)), general),
    "transpose_reversed": (lambda x: x.transpose(), lambda t: t.permute(2, 1, 0),
                           lambda a: a.transpose(), general),
    "t": (lambda x: x[0].t(), lambda t: t[0].t(), lambda a: a[0].T, general),
    "expand": (lambda x: x[:, :1].expand(-1, 5, -1), lambda t: t[:, :1].expand(-1, 5, -1),
               lambda a: np.broadcast_to(a[:, :1], (2, 5, 4)), general),
    "expand_new_axis": (lambda x: x.expand(3, -1, -1, -1), lambda t: t.expand(3, -1, -1, -1),
                        lambda a: np.broadcast_to(a, (3, 2, 3, 4)), general),
    "to_float32_and_back": (lambda x: x.to(np.float32).double() * x,
                            lambda t: t.to(torch.float32).double() * t,
                            lambda a: a.astype(np.float32).astype(np.float64) * a, general),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_matches_numpy_gradcheck_and_torch(name):
    method, torch_method, reference, make = METHODS[name]
    if name == "to_float32_and_back":  # float32 rounding: compare values, gradient by torch
        x = make(1)
        np.testing.assert_allclose(method(cr.Variable(x)).data, reference(x))
        compare_with_torch(method, torch_method, [x], rtol=1e-6, atol=1e-6)
        return
    check_op(method, [make(1)], reference, torch_method)


@given(shape=shapes(min_dims=1), seed=seeds, data=st.data())
def test_max_and_min_with_dim_give_values_and_indices_like_torch(shape, seed, data):
    x = random_array(seed, shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    for name in ("max", "min"):
        values, indices = getattr(cr.Variable(x), name)(dim=dim, keepdim=keepdim)
        arg = getattr(np, "arg" + name)(x, axis=dim, keepdims=keepdim)
        np.testing.assert_array_equal(indices.data, arg)
        np.testing.assert_array_equal(values.data, getattr(np, name)(x, axis=dim,
                                                                     keepdims=keepdim))
        assert not indices.requires_grad and indices.dtype.kind == "i"
        check_op(lambda a, n=name: getattr(a, n)(dim=dim, keepdim=keepdim).values, [x],
                 torch_fn=lambda t, n=name: getattr(t, n)(dim=dim, keepdim=keepdim).values)


@given(shape=shapes(min_dims=1, max_dims=4), seed=seeds, data=st.data())
def test_shape_methods_over_random_shapes_match_numpy_and_torch(shape, seed, data):
    x, n = random_array(seed, shape), len(shape)
    start = data.draw(st.integers(-n, n - 1))
    end = data.draw(st.integers(start % n, n - 1))
    joined = shape[:start % n] + (-1,) + shape[end + 1:]
    check_op(lambda a: a.flatten(start, end), [x], lambda a: a.reshape(joined),
             torch_fn=lambda t: t.flatten(start, end))
    order = tuple(data.draw(st.permutations(range(n))))
    check_op(lambda a: a.permute(*order), [x], lambda a: a.transpose(order),
             torch_fn=lambda t: t.permute(*order))
    where = data.draw(st.integers(-n - 1, n))
    check_op(lambda a: a.unsqueeze(where), [x], lambda a: np.expand_dims(a, where),
             torch_fn=lambda t: t.unsqueeze(where))
    ones = x[tuple(slice(0, 1) if data.draw(st.booleans()) else slice(None) for _ in shape)]
    sizes = tuple(3 if m == 1 else -1 for m in ones.shape)
    check_op(lambda a: a.expand(2, *sizes), [ones],
             lambda a: np.broadcast_to(a, (2,) + tuple(3 if m == 1 else m for m in a.shape)),
             torch_fn=lambda t: t.expand(2, *sizes))


def test_max_with_dim_sends_the_gradient_to_the_first_tie_like_torch():
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    x = cr.Variable(data)
    values, indices = x.max(dim=1)
    values.sum().backward()
    np.testing.assert_array_equal(indices.data, [1, 0])
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])
    compare_with_torch(lambda a: a.max(dim=1).values, lambda t: t.max(dim=1).values, [data])
    x.cleargrad()
    x.max(axis=1).sum().backward()  # NumPy's spelling: ties share, like torch.amax
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5], [0.5, 0.5, 0]])


def test_max_with_a_tuple_dim_points_to_axis():
    with pytest.raises(TypeError, match=r"max: dim must be one int.*axis="):
        cr.Variable(np.ones((2, 3))).max(dim=(0, 1))


# chainrule's keywords, then torch's and NumPy's for the same request
ARG_CALLS = [({}, {}, {}), ({"dim": 1}, {"dim": 1}, {"axis": 1}),
             ({"axis": -1, "keepdims": True}, {"dim": -1, "keepdim": True},
              {"axis": -1, "keepdims": True}),
             ({"dim": 0, "keepdim": True}, {"dim": 0, "keepdim": True},
              {"axis": 0, "keepdims": True})]


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("ours, theirs, numpys", ARG_CALLS)
def test_argmax_and_argmin_are_plain_integer_variables(name, ours, theirs, numpys):
    x = random_array(3, (3, 4, 5))
    y = getattr(cr.Variable(x), name)(**ours)
    np.testing.assert_array_equal(y.data, getattr(np, name)(x, **numpys))
    assert y.creator is None and not y.requires_grad and y.dtype.kind == "i"
    if torch is not None:
        np.testing.assert_array_equal(y.data, getattr(torch.tensor(x), name)(**theirs).numpy())


def test_astype_to_an_integer_is_a_plain_result_and_to_a_float_is_differentiable():
    x = cr.Variable(np.array([1.7, -2.2]))
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and i.creator is None and i.tolist() == [1, -2]
    y = x.astype("float32")
    assert y.dtype == np.float32
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    assert x.double() is x and x.float().dtype == np.float32


def test_any_all_and_long_are_plain_results():
    x = cr.Variable(np.array([[0.5, -1.0], [2.0, 3.0]]))
    positive = x > 0
    assert positive.any().item() is True and positive.all().item() is False
    np.testing.assert_array_equal(positive.all(dim=1).data, [False, True])
    np.testing.assert_array_equal(positive.any(axis=0, keepdims=True).data, [[True, True]])
    labels = x.long()
    assert labels.dtype == np.int64 and labels.creator is None and labels.tolist() == [[0, -1],
                                                                                      [2, 3]]
    assert (positive.sum() == 3).item() and x.cpu() is x


def test_to_takes_a_dtype_or_a_device():
    x = cr.Variable(np.array([1.0, 2.0]))
    assert x.to("float32").dtype == np.float32
    assert x.to(dtype=np.float32, device="cpu").dtype == np.float32
    assert x.to("cpu") is x
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        x.to(device="gpu0")


def test_facts_numel_dim_size_tolist():
    x = cr.Variable(np.arange(6.0).reshape(2, 3))
    assert x.numel() == 6 and x.dim() == 2
    assert x.size() == (2, 3) and x.size(0) == 2 and x.size(-1) == 3
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert type(x.sum().tolist()) is float


def test_size_reads_as_numpy_and_dezero_count_and_as_pytorch_method():
    x = cr.Variable(np.zeros((4, 5)))
    assert x.size == 20 and x.size == x.data.size and x.size // 4 == 5  # DeZero, NumPy
    assert x.size() == (4, 5) and x.size(1) == 5  # PyTorch
    assert cr.Variable(np.zeros(0)).size == 0 and cr.Variable(np.array(2.0)).size() == ()


@pytest.mark.parametrize("expression", [
    lambda x: x / x.size, lambda x: x * x.size, lambda x: x.size * x, lambda x: x - x.size,
    lambda x: x.size - x, lambda x: x.size / x, lambda x: x + x.size, lambda x: x**x.size,
])
def test_size_as_a_number_keeps_a_float32_graph_float32(expression):
    x = cr.Variable(np.array([1.0, 2.0], dtype=np.float32))
    y = expression(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert x.size == 2 and type(x.size * 1) is int


@pytest.mark.parametrize("call, message", [
    (lambda x: x.flatten(2, 0), r"flatten: start_dim 2 comes after end_dim 0"),
    (lambda x: x.permute(0, 0, 1), r"permute: \(0, 0, 1\) is not an order of the 3 axes"),
    (lambda x: x.expand(2, 5, 4), r"expand: shape \(2, 3, 4\) cannot expand to \(2, 5, 4\)"),
    (lambda x: x.unsqueeze(4), r"unsqueeze: axis 4 is out of range for shape \(2, 3, 4\)"),
    (lambda x: x.squeeze(1), r"squeeze: axis 1 of shape \(2, 3, 4\) has length 3"),
    (lambda x: x.mean(axis=1, dim=2), r"mean: got axis=1 and dim=2; pass only one"),
    (lambda x: x.sum(axis=3), r"sum: axis 3 is out of range for shape \(2, 3, 4\)"),
    (lambda x: x.clamp(1.0, 0.0), r"clip: x_min 1.0 is greater than x_max 0.0"),
    (lambda x: x.transpose(0, 3), r"transpose: axis 3 is out of range for shape \(2, 3, 4\)"),
    (lambda x: x.t(), r"t: expects at most 2 axes, got shape \(2, 3, 4\)"),
])
def test_bad_arguments_give_one_sentence_naming_the_method(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(cr.Variable(np.zeros((2, 3, 4))))


# ---- comparisons ---------------------------------------------------------------
COMPARISONS = {
    "<": (lambda a, b: a < b), "<=": (lambda a, b: a <= b), ">": (lambda a, b: a > b),
    ">=": (lambda a, b: a >= b), "==": (lambda a, b: a == b), "!=": (lambda a, b: a != b),
}


@pytest.mark.parametrize("op", sorted(COMPARISONS))
def test_comparisons_give_boolean_variables_without_gradient(op):
    compare = COMPARISONS[op]
    a = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    b = np.array([1.0, 1.0, 1.0])
    x, y = cr.Variable(a), cr.Variable(b)
    cases = [(compare(x, y), compare(a, b)), (compare(x, 1.0), compare(a, 1.0)),
             (compare(1, x), compare(1, a)), (compare(x, b), compare(a, b)),
             (compare(b, x), compare(b, a)), (compare(x * 2, 2), compare(a * 2, 2))]
    for result, expected in cases:
        assert isinstance(result, cr.Variable) and result.dtype == np.bool_
        assert result.creator is None and not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_comparison_of_shapes_that_do_not_broadcast_is_one_sentence():
    with pytest.raises(ValueError, match=r"<: shapes \(2,\) and \(3,\) do not broadcast"):
        _ = cr.Variable(np.zeros(2)) < np.zeros(3)


def test_variables_hash_by_identity_so_they_stay_dict_keys_and_set_members():
    x, y = cr.Variable(np.array([1.0, 2.0])), cr.Variable(np.array([1.0, 2.0]))
    table = {x: "x", y: "y"}
    assert table[x] == "x" and table[y] == "y" and len({x, y, x}) == 2
    assert hash(x) != hash(y) and y not in {x}
    assert (x == None) is False and (x != None) is True  # noqa: E711 (what `== None` gives)


def test_comparison_mask_drives_a_gradient_as_in_pytorch():
    x = cr.Variable(np.array([-1.0, 0.5, 2.0]))
    y = (x * (x > 0).float()).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])
