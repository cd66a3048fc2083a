"""Tangent rules (``jvp``) of every Function in chainrule.functions.

Each rule is checked twice, float64, over the hypothesis shapes of the per-op tests: against
central differences along the tangent (the directional derivative), and against the reverse
mode's Jacobian, u · (J v) = (Jᵀ u) · v. An input without a tangent (None) is drawn too.
A completeness test fails for any Function there without a rule of its own.
"""


import contextlib
import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_conv import geometries
from test_pool import pools
from test_rnn import inputs as rnn_inputs

import chainrule as cr
import chainrule.functions as F
from chainrule.core.forward import dual_level, make_dual, unpack_dual
from chainrule.functions import (
    activation,
    conv,
    linalg,
    loss_binary,
    loss_regression,
    noise,
    norm,
    pool,
    reduction,
    shape,
)
from chainrule.functions import math as fmath
from chainrule.functions.embedding import Embedding
from chainrule.functions.im2col import Col2im, Im2col
from chainrule.functions.loss import ClassLoss
from chainrule.functions.lstm_sequence import LSTMSequence
from chainrule.functions.rnn import GRU, LSTM, RNN
from harness import broadcast_shapes, random_array, seeds, shapes


def as_tuple(ys):
    return ys if isinstance(ys, tuple) else (ys,)


def rule_tangents(fn, xs, ts):
    """fn's outputs, their tangents in forward mode for input tangents ``ts`` (None: none), and
    fn's last Function, whose rule made them."""
    with dual_level():
        duals = [x if t is None else make_dual(x, t) for x, t in zip(xs, ts)]
        ys = as_tuple(fn(*duals))
        ts = tuple(unpack_dual(y).tangent for y in ys)
    return ys, ts, ys[0].creator


def directional_derivative(fn, arrays, directions, eps=1e-6):
    """(f(x + εv) - f(x - εv)) / 2ε for each output (v = 0 where a direction is None)."""
    def at(sign):
        moved = [a if v is None else a + sign * eps * v for a, v in zip(arrays, directions)]
        with cr.no_grad():
            return [y.data for y in as_tuple(fn(*[cr.Variable(m) for m in moved]))]
    return [(p - m) / (2 * eps) for p, m in zip(at(1), at(-1))]


def check_tangent(fn, arrays, cls, seed=0, present=None, rtol=1e-5, atol=1e-6):
    """fn(*arrays) ends in one call of ``cls``: its rule against central differences and
    against the reverse mode. ``present`` says which inputs get a tangent (default: each float
    input, drawn with one left out when there are several)."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    floats = [a.dtype.kind == "f" for a in arrays]
    if present is None:
        present = list(floats)
        if sum(present) > 1 and rng.random() < 0.5:
            present[rng.choice([i for i, p in enumerate(present) if p])] = False
    directions = [rng.standard_normal(a.shape) if p else None for a, p in zip(arrays, present)]
    xs = [cr.Variable(a.copy(), requires_grad=f) for a, f in zip(arrays, floats)]
    ys, ts, f = rule_tangents(fn, xs, [None if v is None else cr.Variable(v)
                                       for v in directions])
    assert type(f) is cls, f"{type(f).__name__} made the output, not {cls.__name__}"
    assert len(ts) == len(ys)
    numeric = directional_derivative(fn, arrays, directions)
    for y, t, n in zip(ys, ts, numeric):
        t = np.zeros(y.shape) if t is None else t.data
        assert t.shape == y.shape
        np.testing.assert_allclose(t, n, rtol=rtol, atol=atol)
    # u · (J v) = (Jᵀ u) · v, the transpose the reverse mode computes
    us = [rng.standard_normal(y.shape) for y in ys]
    wanted = [x for x, v in zip(xs, directions) if v is not None]
    grads = cr.grad(list(ys), wanted, [cr.Variable(u) for u in us], allow_unused=True)
    forward = sum(float(np.sum(u * t.data)) for u, t in zip(us, ts) if t is not None)
    reverse = sum(float(np.sum(g.data * v)) for g, v in
                  zip(grads, [v for v in directions if v is not None]) if g is not None)
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-9)
    return ts


def apart(seed, shape, margin=0.1, high=2.0):
    """Values in ±[margin, high]: clear of a kink at 0."""
    sign = np.where(random_array(seed + 1, shape) > 0, 1.0, -1.0)
    return sign * random_array(seed, shape, margin, high)


# ---- activation and math: elementwise --------------------------------------------------------
ELEMENTWISE = [
    (activation.LeakyReLU, lambda x: activation.LeakyReLU(0.2)(x), apart),
    (activation.GELU, lambda x: activation.GELU()(x), random_array),
    (activation.SiLU, lambda x: activation.SiLU()(x), random_array),
    (activation.ELU, lambda x: activation.ELU(1.3)(x), apart),
    (activation.Softplus, lambda x: activation.Softplus(2.0, 20.0)(x), random_array),
    (activation.Softplus, lambda x: activation.Softplus(1.0, 1.0)(x), apart),  # linear tail
    (activation.Hardtanh, lambda x: activation.Hardtanh(-1.0, 1.0)(x),
     lambda seed, s: apart(seed, s, 0.1, 0.9) * np.where(random_array(seed + 2, s) > 0, 1, 2.2)),
    (fmath.Square, lambda x: fmath.Square()(x), random_array),
    (fmath.Sin, lambda x: fmath.Sin()(x), random_array),
    (fmath.Cos, lambda x: fmath.Cos()(x), random_array),
    (fmath.Tan, lambda x: fmath.Tan()(x), lambda seed, s: random_array(seed, s, -1.2, 1.2)),
    (noise.Dropout, lambda x: (np.random.seed(3), noise.Dropout(0.4)(x))[1], random_array),
]


@pytest.mark.parametrize(("cls", "fn", "values"), ELEMENTWISE,
                         ids=[c.__name__ for c, _, _ in ELEMENTWISE])
@settings(max_examples=8)
@given(shape=shapes(), seed=seeds)
def test_elementwise_tangents(cls, fn, values, shape, seed):
    check_tangent(fn, [values(seed, shape)], cls, seed)


@given(shape=shapes(), seed=seeds)
def test_leaky_relu_grad_tangent_is_linear_in_gy(shape, seed):
    gy, x = random_array(seed, shape), apart(seed + 7, shape)
    check_tangent(lambda g, a: activation.LeakyReluGrad(0.2)(g, a), [gy, x],
                  activation.LeakyReluGrad, seed)


def test_dropout_tangent_sees_the_forward_s_mask():
    x = cr.Variable(np.ones((50,)))
    np.random.seed(1)
    y = F.dropout(x, 0.5)
    (t,) = as_tuple(y.creator.jvp(cr.Variable(np.full(50, 3.0))))
    np.testing.assert_array_equal(t.data, 3.0 * y.data)


# ---- reductions ----------------------------------------------------------------------------
@st.composite
def shape_and_axis(draw, min_dims=1):
    s = draw(shapes(min_dims=min_dims))
    axes = st.sampled_from([None, *range(-len(s), len(s))] + ([(0, len(s) - 1)] if len(s) > 1
                                                               else []))
    return s, draw(axes), draw(st.booleans())


@given(case=shape_and_axis(), seed=seeds)
def test_logsumexp_tangent_is_the_softmax_average(case, seed):
    s, axis, keepdims = case
    axis = axis if axis is None or isinstance(axis, tuple) else (axis % len(s),)
    check_tangent(lambda x: reduction.LogSumExp(axis, keepdims)(x), [random_array(seed, s)],
                  reduction.LogSumExp, seed)


@given(case=shape_and_axis(), seed=seeds)
def test_cumsum_tangent_is_the_cumsum_of_the_tangent(case, seed):
    s, axis, _ = case
    axis = 0 if axis is None or isinstance(axis, tuple) else axis % len(s)
    check_tangent(lambda x: reduction.Cumsum(axis)(x), [random_array(seed, s)],
                  reduction.Cumsum, seed)


@given(shape=shapes(), seed=seeds)
def test_root_of_squares_tangent(shape, seed):
    check_tangent(lambda v: reduction.RootOfSquares()(v), [random_array(seed, shape, 0.2, 2)],
                  reduction.RootOfSquares, seed)


def test_root_of_squares_tangent_is_zero_at_zero_as_its_gradient():
    v = cr.Variable(np.array([0.0, 4.0]))
    y = reduction.RootOfSquares()(v)
    np.testing.assert_array_equal(y.creator.jvp(cr.Variable(np.ones(2))).data, [0.0, 0.25])


# ---- shapes --------------------------------------------------------------------------------
@st.composite
def joined(draw):
    """Shapes of 1-3 arrays that agree off ``axis``, and the axis."""
    s = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(s), len(s) - 1))
    count = draw(st.integers(1, 3))
    lengths = [draw(st.integers(1, 3)) for _ in range(count)]
    return [s[:axis % len(s)] + (n,) + s[axis % len(s) + 1:] for n in lengths], axis


@given(case=joined(), seed=seeds)
def test_concat_tangent(case, seed):
    ss, axis = case
    arrays = [random_array(seed + i, s) for i, s in enumerate(ss)]
    check_tangent(lambda *xs: shape.Concat(axis)(*xs), arrays, shape.Concat, seed)


@given(s=shapes(), count=st.integers(1, 3), seed=seeds, data=st.data())
def test_stack_tangent(s, count, seed, data):
    axis = data.draw(st.integers(-len(s) - 1, len(s)))
    arrays = [random_array(seed + i, s) for i in range(count)]
    check_tangent(lambda *xs: shape.Stack(axis)(*xs), arrays, shape.Stack, seed)


@given(case=joined(), seed=seeds)
def test_split_tangents_one_per_piece(case, seed):
    ss, axis = case
    axis %= len(ss[0])
    whole = sum(s[axis] for s in ss)
    indices = list(np.cumsum([s[axis] for s in ss])[:-1])
    s = ss[0][:axis] + (whole,) + ss[0][axis + 1:]
    check_tangent(lambda x: shape.Split(indices, axis)(x), [random_array(seed, s)],
                  shape.Split, seed)


@given(s=shapes(), seed=seeds, data=st.data())
def test_constant_pad_tangent_has_a_zero_border(s, seed, data):
    widths = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in s)
    ts = check_tangent(lambda x: shape.ConstantPad(widths, 1.5)(x), [random_array(seed, s)],
                       shape.ConstantPad, seed, present=[True])
    border = np.ones(ts[0].shape, dtype=bool)
    border[tuple(slice(b, b + n) for (b, _), n in zip(widths, s))] = False
    assert not ts[0].data[border].any()


# ---- linear algebra ------------------------------------------------------------------------
@given(batch=st.sampled_from([(), (4,), (2, 3)]), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear_tangent_is_the_product_rule(batch, n_in, n_out, bias, seed):
    arrays = [random_array(seed, batch + (n_in,)), random_array(seed + 1, (n_in, n_out))]
    arrays += [random_array(seed + 2, (n_out,))] if bias else []
    check_tangent(lambda *xs: linalg.Linear()(*xs), arrays, linalg.Linear, seed)


def test_linear_tangent_of_the_bias_alone_spreads_over_the_batch():
    arrays = [random_array(0, (3, 2)), random_array(1, (2, 4)), random_array(2, (4,))]
    check_tangent(lambda *xs: linalg.Linear()(*xs), arrays, linalg.Linear,
                  present=[False, False, True])


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
    ("ii->i", [(3, 3)]),
    ("ijk,k->i", [(2, 3, 4), (4,)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("ii,ij->j", [(2, 2), (2, 3)]),
]


@pytest.mark.parametrize(("equation", "shape_list"), EINSUMS)
@settings(max_examples=4)
@given(seed=seeds)
def test_einsum_tangent_is_multilinear(equation, shape_list, seed):
    arrays = [random_array(seed + i, s) for i, s in enumerate(shape_list)]
    check_tangent(lambda *xs: F.einsum(equation, *xs), arrays, linalg.Einsum, seed)


def test_einsum_of_one_operand_twice_adds_both_terms():
    x = random_array(0, (3, 3))
    check_tangent(lambda a: F.einsum("ij,jk->ik", a, a), [x], linalg.Einsum)


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
@given(case=shape_and_axis(), seed=seeds)
def test_vector_norm_tangent(p, case, seed):
    s, axis, keepdims = case
    check_tangent(lambda x: F.vector_norm(x, p, axis, keepdims), [apart(seed, s)],
                  linalg.PNorm, seed)


# ---- losses --------------------------------------------------------------------------------
class_shapes = st.sampled_from([(3, 4), (2, 3, 2), (2, 3, 2, 2), (4, 2)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("loss, targets", [
    ("cross_entropy", "index"), ("cross_entropy", "weighted"), ("cross_entropy", "smoothed"),
    ("cross_entropy", "probability"), ("nll_loss", "index"), ("nll_loss", "weighted")])
@settings(max_examples=4)
@given(s=class_shapes, seed=seeds)
def test_class_loss_tangent(reduction, loss, targets, s, seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, s[1], size=s[:1] + s[2:])
    t[rng.random(t.shape) < 0.3] = -100  # ignored positions
    t.flat[0] = 0  # and one counted, so the loss is a number
    options = {"reduction": reduction}
    w = rng.uniform(0.2, 2.0, size=s[1]) if targets == "weighted" else None
    if targets == "smoothed":
        options["label_smoothing"] = 0.2
    if targets == "probability":
        t = rng.dirichlet(np.ones(s[1]), size=s[:1] + s[2:])
        t = np.moveaxis(t, -1, 1)
    check_tangent(lambda x: getattr(F, loss)(x, t, w, **options),
                  [random_array(seed, s, -3, 3)], ClassLoss, seed)


def test_class_loss_tangent_with_every_target_ignored_is_nan_as_torch_s():
    x = cr.Variable(random_array(0, (3, 4)))
    with dual_level():
        y = F.cross_entropy(make_dual(x, np.ones((3, 4))), np.full(3, -100), np.ones(4))
        assert np.isnan(unpack_dual(y).tangent.data)


@given(shape=shapes(), seed=seeds)
def test_binary_cross_entropy_tangent(shape, seed):
    t = random_array(seed + 1, shape, 0, 1)
    check_tangent(lambda x: F.binary_cross_entropy(x, t, reduction="none"),
                  [random_array(seed, shape, 0.05, 0.95)], loss_binary.BinaryCrossEntropy, seed)


@pytest.mark.parametrize("pos_weight", [None, 2.5])
@given(shape=shapes(), seed=seeds)
def test_binary_cross_entropy_with_logits_tangent(pos_weight, shape, seed):
    t = random_array(seed + 1, shape, 0, 1)
    check_tangent(lambda x: F.binary_cross_entropy_with_logits(x, t, reduction="none",
                                                               pos_weight=pos_weight),
                  [random_array(seed, shape, -4, 4)], loss_binary.SigmoidCrossEntropy, seed)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(pair=broadcast_shapes(), seed=seeds)
def test_squared_error_tangent_with_broadcasting(reduction, pair, seed):
    arrays = [random_array(seed, pair[0]), random_array(seed + 1, pair[1])]
    check_tangent(lambda a, b: F.mse_loss(a, b, reduction=reduction), arrays,
                  loss_regression.SquaredError, seed)


@pytest.mark.parametrize("loss", ["huber_loss", "smooth_l1_loss"])
@given(pair=broadcast_shapes(), seed=seeds)
def test_huber_tangent_with_broadcasting(loss, pair, seed):
    a, b = random_array(seed, pair[0]), random_array(seed + 1, pair[1])
    d = np.abs(a - b)
    if (np.abs(d - 0.7) < 0.05).any():  # the kink at |d| = δ: central differences straddle it
        return
    option = {"delta": 0.7} if loss == "huber_loss" else {"beta": 0.7}
    check_tangent(lambda a, b: getattr(F, loss)(a, b, reduction="none", **option), [a, b],
                  loss_regression.Huber, seed)


# ---- normalisation, embedding --------------------------------------------------------------
batch_shapes = st.one_of(
    st.tuples(st.integers(2, 4), st.integers(1, 3)),
    st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2)),
).filter(lambda s: np.prod(s) // s[1] >= 2)


@settings(max_examples=10)
@given(s=batch_shapes, seed=seeds)
def test_batch_norm_tangent(s, seed):
    arrays = [random_array(seed, s), random_array(seed + 1, s[1:2]),
              random_array(seed + 2, s[1:2])]
    check_tangent(lambda *xs: F.batch_norm(*xs), arrays, norm.Normalize, seed)


@settings(max_examples=10)
@given(s=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), seed=seeds,
       data=st.data())
def test_layer_norm_tangent(s, seed, data):
    k = data.draw(st.integers(1, len(s)))
    arrays = [random_array(seed, s), random_array(seed + 1, s[-k:]),
              random_array(seed + 2, s[-k:])]
    check_tangent(lambda *xs: F.layer_norm(*xs), arrays, norm.Normalize, seed)


@given(ids_shape=shapes(min_dims=0, max_dims=2), num=st.integers(1, 4),
       dim=st.integers(1, 3), seed=seeds)
def test_embedding_tangent_picks_the_tangent_s_rows(ids_shape, num, dim, seed):
    ids = np.random.default_rng(seed).integers(0, num, size=ids_shape)
    check_tangent(lambda W: F.embedding(ids, W), [random_array(seed, (num, dim))],
                  Embedding, seed)


# ---- windows: im2col, convolution, pooling -------------------------------------------------
@pytest.mark.parametrize("to_matrix", [True, False])
@settings(max_examples=8)
@given(geometry=geometries(), seed=seeds)
def test_im2col_and_col2im_tangents(to_matrix, geometry, seed):
    s, kernel, stride, pad = geometry
    x = random_array(seed, s)
    check_tangent(lambda a: F.im2col(a, kernel, stride, pad, to_matrix), [x], Im2col,
                  seed)
    col = random_array(seed + 1, F.im2col(x, kernel, stride, pad, to_matrix).shape)
    check_tangent(lambda c: F.col2im(c, s, kernel, stride, pad, to_matrix), [col],
                  Col2im, seed)


@pytest.mark.parametrize("bias", [False, True])
@settings(max_examples=8)
@given(geometry=geometries(), out_channels=st.integers(1, 2), seed=seeds)
def test_conv2d_tangent(bias, geometry, out_channels, seed):
    s, kernel, stride, pad = geometry
    arrays = [random_array(seed, s), random_array(seed + 1, (out_channels, s[1]) + kernel)]
    arrays += [random_array(seed + 2, (out_channels,))] if bias else []
    check_tangent(lambda *xs: F.conv2d(*xs, stride=stride, pad=pad), arrays, conv.Conv2d, seed)
    y = F.conv2d(*arrays, stride=stride, pad=pad)
    # Conv2d's gradient in W: bilinear in x and the output gradient
    kernel, stride, pad = kernel, conv.as_pair(stride, ""), conv.as_pair(pad, "")
    check_tangent(lambda a, g: conv.Conv2dGradW(kernel, stride, pad)(a, g),
                  [arrays[0], random_array(seed + 3, y.shape)], conv.Conv2dGradW, seed)


@pytest.mark.parametrize("bias", [False, True])
@settings(max_examples=8)
@given(geometry=geometries(), out_channels=st.integers(1, 2), seed=seeds)
def test_conv_transpose2d_tangent(bias, geometry, out_channels, seed):
    s, kernel, stride, pad = geometry
    y = F.conv2d(random_array(seed, s), random_array(seed, (out_channels, s[1]) + kernel),
                 stride=stride, pad=pad)
    arrays = [random_array(seed, y.shape), random_array(seed + 1, (out_channels, s[1]) + kernel)]
    arrays += [random_array(seed + 2, (s[1],))] if bias else []
    # to conv2d's input size, as conv2d's gradient in x is
    transposed = conv.ConvTranspose2d(conv.as_pair(stride, ""), conv.as_pair(pad, ""), s[2:])
    check_tangent(lambda *xs: transposed(*xs), arrays, conv.ConvTranspose2d, seed)
    try:  # and to its own size, (H - 1)·sh - 2·ph + kh, where that fits
        F.conv_transpose2d(*arrays, stride=stride, pad=pad)
    except ValueError:
        return
    check_tangent(lambda *xs: F.conv_transpose2d(*xs, stride=stride, pad=pad), arrays,
                  conv.ConvTranspose2d, seed)


def distinct(seed, s):
    """Values at least 0.1 apart, so no window of a max-pool holds a tie."""
    return np.random.default_rng(seed).permutation(int(np.prod(s))).reshape(s) * 0.1 - 1.0


@settings(max_examples=10)
@given(case=pools(), seed=seeds)
def test_max_pool2d_tangent_is_gathered_at_the_argmax(case, seed):
    s, kernel, stride, pad = case
    x = distinct(seed, s)
    check_tangent(lambda a: F.max_pool2d(a, kernel, stride, pad), [x], pool.MaxPool2d, seed)
    f = pool.MaxPool2d(*pool._geometry("max_pool2d", kernel, stride, pad))
    gy = random_array(seed + 1, f(cr.Variable(x)).shape)
    check_tangent(lambda g: pool.MaxPool2dGrad(f)(g), [gy], pool.MaxPool2dGrad, seed)
    check_tangent(lambda a: pool.MaxPool2dGather(f)(a), [random_array(seed + 2, s)],
                  pool.MaxPool2dGather, seed)


@settings(max_examples=10)
@given(case=pools(), seed=seeds)
def test_avg_pool2d_tangents(case, seed):
    s, kernel, stride, pad = case
    x = random_array(seed, s)
    check_tangent(lambda a: F.avg_pool2d(a, kernel, stride, pad), [x], pool.AvgPool2d, seed)
    f = pool.AvgPool2d(*pool._geometry("avg_pool2d", kernel, stride, pad))
    gy = random_array(seed + 1, f(cr.Variable(x)).shape)
    check_tangent(lambda g: pool.AvgPool2dGrad(f, s[2:], False)(g), [gy], pool.AvgPool2dGrad,
                  seed)


# ---- recurrences ---------------------------------------------------------------------------
RECURRENCES = {"rnn": (F.rnn, RNN), "lstm": (F.lstm, LSTM), "gru": (F.gru, GRU)}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("time_axis", "reverse"), [(0, False), (1, True)])
@settings(max_examples=4)
@given(steps=st.integers(1, 3), batch=st.integers(1, 2), hidden=st.integers(1, 3), seed=seeds)
def test_recurrence_tangents(kind, time_axis, reverse, steps, batch, hidden, seed):
    fn, cls = RECURRENCES[kind]
    arrays = rnn_inputs(kind, steps, batch, hidden, seed % 1000, time_axis)
    check_tangent(lambda *xs: fn(*xs, time_axis=time_axis, reverse=reverse), arrays, cls, seed)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_step_tangents(kind):
    fn, cls = RECURRENCES[kind]
    xw, *rest = rnn_inputs(kind, 1, 2, 3, seed=4)
    check_tangent(fn, [xw[0], *rest], cls)


@pytest.mark.parametrize(("time_axis", "reverse"), [(0, False), (1, True)])
def test_lstm_through_ids_tangents(time_axis, reverse):
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 4, (3, 2) if time_axis == 0 else (2, 3))
    xw, *rest = rnn_inputs("lstm", 3, 2, 2, seed=5)
    table = rng.standard_normal((4, xw.shape[-1]))
    check_tangent(lambda *xs: F.lstm(*xs, ids=ids, time_axis=time_axis, reverse=reverse),
                  [table, *rest], LSTMSequence)


def test_relu_rnn_tangent():
    xw, *rest = rnn_inputs("rnn", 3, 2, 3, seed=6)
    check_tangent(lambda *xs: F.rnn(*xs, nonlinearity="relu"), [xw, *rest], RNN)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("single", [False, True])
def test_recurrence_tangents_on_the_forward_s_buffers_equal_the_recorded_ones(kind, single):
    """Outside recording the rule reads the forward's arrays; recording, a recomputation."""
    fn, _ = RECURRENCES[kind]
    xw, *rest = rnn_inputs(kind, 3, 2, 3, seed=8)
    xs = [cr.Variable(a) for a in [xw[0] if single else xw, *rest]]
    directions = [cr.Variable(random_array(20 + i, x.shape)) for i, x in enumerate(xs)]
    y = as_tuple(fn(*xs))[0]
    recorded = as_tuple(y.creator.jvp(*directions))
    with cr.no_grad():
        plain = as_tuple(y.creator.jvp(*directions))
    assert recorded[0].creator is not None and plain[0].creator is None
    cr.grad(y, xs[:1])  # a plain backward gives the forward's buffers back to the pool,
    fn(*[x * 2 for x in xs])  # and another call takes them
    with cr.no_grad():
        again = as_tuple(y.creator.jvp(*directions))
    for r, p, a in zip(recorded, plain, again):
        np.testing.assert_allclose(p.data, r.data, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.data, r.data, rtol=1e-12, atol=1e-12)


# ---- reverse over forward: the tangents differentiate again ---------------------------------
def tangent_function(fn, directions):
    """x ↦ the rule's tangents of fn at x along ``directions``, flattened into one vector."""
    def tangents(*xs):
        _, ts, _ = rule_tangents(fn, xs, [None if v is None else cr.Variable(v)
                                          for v in directions])
        return F.concat([t.reshape(-1) for t in ts if t is not None])
    return tangents


NESTED = [
    ("gelu", lambda x: F.gelu(x), [(2, 3)]),
    ("tan", lambda x: F.tan(x), [(3,)]),
    ("logsumexp", lambda x: F.logsumexp(x, axis=1), [(2, 3)]),
    ("std", lambda v: reduction.RootOfSquares()(v), [(3,)]),
    ("pnorm", lambda x: F.vector_norm(x, 3, 1), [(2, 3)]),
    ("layer_norm", lambda x, g, b: F.layer_norm(x, g, b), [(2, 3), (3,), (3,)]),
    ("batch_norm", lambda x, g, b: F.batch_norm(x, g, b), [(4, 2), (2,), (2,)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, np.array([0, 2]), np.array([1.0, 2, 3]),
                                                label_smoothing=0.1), [(2, 3)]),
    ("huber", lambda a, b: F.huber_loss(a, b, reduction="none", delta=5.0), [(2, 3), (3,)]),
    ("mse", lambda a, b: F.mse_loss(a, b), [(2, 3), (3,)]),
    ("linear", lambda x, W, b: F.linear(x, W, b), [(2, 3), (3, 2), (2,)]),
    ("conv2d", lambda x, W: F.conv2d(x, W, pad=1), [(1, 2, 3, 3), (2, 2, 2, 2)]),
    ("rnn", lambda *xs: F.rnn(*xs), [(2, 2, 2), (2, 2), (2,), (2, 2)]),
    ("lstm", lambda *xs: F.lstm(*xs), [(2, 2, 8), (2, 8), (8,), (2, 2), (2, 2)]),
    ("gru", lambda *xs: F.gru(*xs, time_axis=1, reverse=True), [(2, 2, 6), (2, 6), (6,),
                                                                (2, 2)]),
]


@pytest.mark.parametrize(("fn", "shape_list"), [c[1:] for c in NESTED], ids=[c[0] for c in NESTED])
def test_tangents_differentiate_in_reverse_mode(fn, shape_list):
    """Reverse over forward: the gradient of u · (J v) in x against central differences."""
    arrays = [random_array(i, s, 0.2, 1.2) for i, s in enumerate(shape_list)]
    directions = [random_array(10 + i, s) for i, s in enumerate(shape_list)]
    cr.gradcheck(tangent_function(fn, directions), arrays)


# ---- against torch.func.jvp ----------------------------------------------------------------
def compare_with_torch_jvp(fn, torch_fn, arrays, seed=0):
    """The rule's tangents equal torch.func.jvp's on the same float64 inputs and directions."""
    torch = pytest.importorskip("torch")
    directions = [np.random.default_rng(seed + i).standard_normal(np.shape(a))
                  for i, a in enumerate(arrays)]
    _, ts, _ = rule_tangents(fn, [cr.Variable(a) for a in arrays],
                             [cr.Variable(v) for v in directions])
    _, expected = torch.func.jvp(torch_fn, tuple(torch.tensor(a) for a in arrays),
                                 tuple(torch.tensor(v) for v in directions))
    for t, e in zip(ts, as_tuple(expected)):
        np.testing.assert_allclose(t.data, e.numpy(), rtol=1e-9, atol=1e-10)


def test_conv_and_pool_tangents_equal_torch_s():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    arrays = [random_array(0, (2, 3, 5, 5)), random_array(1, (4, 3, 3, 3)), random_array(2, (4,))]
    compare_with_torch_jvp(lambda *xs: F.conv2d(*xs, stride=2, pad=1),
                           lambda *xs: tf.conv2d(*xs, stride=2, padding=1), arrays)
    compare_with_torch_jvp(lambda x: F.max_pool2d(x, 3, 2, 1),
                           lambda x: tf.max_pool2d(x, 3, 2, 1), [distinct(0, (2, 3, 5, 5))])
    arrays = [random_array(0, (2, 3, 3, 3)), random_array(1, (3, 2, 2, 2)), random_array(2, (2,))]
    compare_with_torch_jvp(lambda *xs: F.conv_transpose2d(*xs, stride=2),
                           lambda *xs: tf.conv_transpose2d(*xs, stride=2), arrays)


def test_norm_and_loss_tangents_equal_torch_s():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    arrays = [random_array(0, (2, 3, 4)), random_array(1, (4,)), random_array(2, (4,))]
    compare_with_torch_jvp(F.layer_norm, lambda x, g, b: tf.layer_norm(x, (4,), g, b), arrays)
    t, w = np.array([0, 2, 1]), np.array([0.5, 1.0, 2.0])
    compare_with_torch_jvp(
        lambda x: F.cross_entropy(x, t, w, label_smoothing=0.1),
        lambda x: tf.cross_entropy(x, torch.tensor(t), torch.tensor(w), label_smoothing=0.1),
        [random_array(3, (3, 3))])
    compare_with_torch_jvp(lambda x: F.gelu(x), lambda x: tf.gelu(x, approximate="tanh"),
                           [random_array(4, (3, 4))])


def test_lstm_step_tangents_equal_torch_s():
    torch = pytest.importorskip("torch")

    def step(xw, W_h, b_h, h, c):
        i, f, g, o = torch.chunk(xw + h @ W_h + b_h, 4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    xw, *rest = rnn_inputs("lstm", 1, 2, 3, seed=1)
    compare_with_torch_jvp(F.lstm, step, [xw[0], *rest])


# ---- completeness ----------------------------------------------------------------------------
def functions_defined_in_chainrule_functions():
    """Every concrete Function subclass defined in a module of chainrule.functions (core's,
    which it re-exports, have their own test in tests/core/test_forward_rules.py)."""
    found = []
    for info in pkgutil.iter_modules(F.__path__):
        module = importlib.import_module(f"chainrule.functions.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, cr.Function)
                    and value.__module__ == module.__name__
                    and value.forward is not cr.Function.forward):
                found.append(value)
    return found


def test_the_walk_finds_every_family():
    assert len(functions_defined_in_chainrule_functions()) >= 40


@pytest.mark.parametrize("cls", functions_defined_in_chainrule_functions(),
                         ids=lambda cls: f"{cls.__module__.rsplit('.', 1)[1]}.{cls.__name__}")
def test_every_function_in_chainrule_functions_defines_a_tangent_rule(cls):
    assert cls.jvp is not cr.Function.jvp, f"{cls.__name__} has no jvp"


FLOAT32 = [
    ("gelu", F.gelu, [(2, 3)]),
    ("logsumexp", lambda x: F.logsumexp(x, axis=0), [(2, 3)]),
    ("pnorm", lambda x: F.vector_norm(x, 1.5), [(3,)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, np.array([1, 0])), [(2, 3)]),
    ("mse", F.mse_loss, [(2, 3), (3,)]),
    ("layer_norm", F.layer_norm, [(2, 3), (3,), (3,)]),
    ("conv2d", lambda x, W, b: F.conv2d(x, W, b, pad=1), [(1, 2, 3, 3), (2, 2, 2, 2), (2,)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(1, 1, 4, 4)]),
    ("lstm", F.lstm, [(2, 2, 8), (2, 8), (8,), (2, 2), (2, 2)]),
    ("gru", F.gru, [(2, 2, 6), (2, 6), (6,), (2, 2)]),
]


@pytest.mark.parametrize(("fn", "shape_list"), [c[1:] for c in FLOAT32],
                         ids=[c[0] for c in FLOAT32])
@pytest.mark.parametrize("recording", [True, False])
def test_rules_keep_float32_float32(fn, shape_list, recording):
    """The rule itself keeps the dtype (forward mode would cast a float64 tangent back)."""
    xs = [cr.Variable(random_array(i, s).astype(np.float32)) for i, s in enumerate(shape_list)]
    ys = as_tuple(fn(*xs))
    ts = [cr.Variable(random_array(9 + i, s).astype(np.float32))
          for i, s in enumerate(shape_list)]
    with contextlib.nullcontext() if recording else cr.no_grad():
        found = as_tuple(ys[0].creator.jvp(*ts))
    assert all(t.dtype == np.float32 for t in found)
