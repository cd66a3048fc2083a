"""F.rnn, F.lstm, F.gru: forward against the NumPy reference, gradients at orders 1 and 2."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import random_array, seeds
from recurrences import GATES, run

FUNCTIONS = {"rnn": F.rnn, "lstm": F.lstm, "gru": F.gru}


def inputs(kind, steps, batch, hidden, seed=0, time_axis=0):
    """xw in the layout of ``time_axis``, W_h, b_h and the initial carry, float64."""
    width = GATES[kind] * hidden
    shape = (steps, batch, width) if time_axis == 0 else (batch, steps, width)
    arrays = [random_array(seed, shape), random_array(seed + 1, (hidden, width), -1, 1),
              random_array(seed + 2, (width,))]
    carried = 2 if kind == "lstm" else 1
    return arrays + [random_array(seed + 3 + i, (batch, hidden)) for i in range(carried)]


def flat(outputs):
    """Every output in one vector, so one gradcheck covers them all."""
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return F.concat([y.reshape(-1) for y in outputs])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("time_axis", "reverse"), [(0, False), (1, True)])
def test_sequence_matches_the_numpy_reference(kind, time_axis, reverse):
    xw, W_h, b_h, *carry = inputs(kind, 5, 3, 4, time_axis=time_axis)
    hs, *final = FUNCTIONS[kind](xw, W_h, b_h, *carry, time_axis=time_axis, reverse=reverse)
    ref_hs, ref_final = run(kind, np.moveaxis(xw, time_axis, 0), W_h, b_h, carry, reverse)
    np.testing.assert_allclose(hs.data, np.moveaxis(ref_hs, 0, time_axis), rtol=1e-12)
    for y, ref in zip(final, ref_final):
        np.testing.assert_allclose(y.data, ref, rtol=1e-12)


def test_relu_rnn_matches_the_numpy_reference():
    xw, W_h, b_h, h = inputs("rnn", 4, 2, 3)
    hs, last = F.rnn(xw, W_h, b_h, h, nonlinearity="relu")
    ref_hs, (ref_last,) = run("rnn", xw, W_h, b_h, (h,), nonlinearity="relu")
    np.testing.assert_allclose(hs.data, ref_hs, rtol=1e-12)
    np.testing.assert_allclose(last.data, ref_last, rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_step_is_a_sequence_of_one(kind):
    xw, W_h, b_h, *carry = inputs(kind, 1, 3, 4)
    step = FUNCTIONS[kind](xw[0], W_h, b_h, *carry)
    step = step if isinstance(step, tuple) else (step,)
    _, *final = FUNCTIONS[kind](xw, W_h, b_h, *carry)
    for y, ref in zip(step, final):
        assert y.shape == (3, 4)
        np.testing.assert_array_equal(y.data, ref.data)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("time_axis", "reverse"), [(0, False), (1, True)])
def test_gradients_at_orders_1_and_2(kind, time_axis, reverse):
    arrays = inputs(kind, 3, 2, 2, seed=5, time_axis=time_axis)

    def fn(*xs):
        return flat(FUNCTIONS[kind](*xs, time_axis=time_axis, reverse=reverse))

    cr.gradcheck(fn, arrays, order=2)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_step_gradients_at_orders_1_and_2(kind):
    xw, *rest = inputs(kind, 1, 2, 3, seed=9)
    cr.gradcheck(lambda *xs: flat(FUNCTIONS[kind](*xs)), [xw[0], *rest], order=2)


@given(kind=st.sampled_from(["rnn", "lstm", "gru"]), steps=st.integers(1, 4),
       batch=st.integers(1, 3), hidden=st.integers(1, 3), seed=seeds)
def test_gradients_over_random_sizes(kind, steps, batch, hidden, seed):
    arrays = inputs(kind, steps, batch, hidden, seed=seed % 1000)
    cr.gradcheck(lambda *xs: flat(FUNCTIONS[kind](*xs)), arrays)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_plain_backward_equals_the_recorded_one(kind):
    """The NumPy backpropagation through time and the create_graph path give one gradient."""
    arrays = inputs(kind, 6, 3, 4, seed=2)
    xs = [cr.Variable(a) for a in arrays]
    gy = np.random.default_rng(0).standard_normal(flat(FUNCTIONS[kind](*xs)).shape)
    plain = cr.grad(flat(FUNCTIONS[kind](*xs)), xs, cr.Variable(gy))
    recorded = cr.grad(flat(FUNCTIONS[kind](*xs)), xs, cr.Variable(gy), create_graph=True)
    for g, r in zip(plain, recorded):
        assert r.creator is not None
        np.testing.assert_allclose(g.data, r.data, rtol=1e-10, atol=1e-12)


def check_reused_work_arrays(call, arrays, others, thirds):
    """The loop's work arrays go back to the scratch pool after backward, and the outputs
    and gradients reuse earlier ones once free: interleaved calls, a second backward through
    one call and held results must all still see their own values."""
    xs, ys = [cr.Variable(a) for a in arrays], [cr.Variable(a) for a in others]
    first = call(*xs)
    held = [y.data.copy() for y in first]
    flat(call(*ys)).sum().backward()  # its work arrays while first's are taken
    flat(first).sum().backward()  # gives first's work arrays back
    once = [x.grad.data.copy() for x in xs]
    call(*[cr.Variable(a) for a in thirds])  # takes the arrays first gave back
    for y, h in zip(first, held):
        np.testing.assert_array_equal(y.data, h)
    for x in xs:
        x.grad = None
    flat(first).sum().backward()  # a second backward through first: recomputed, same
    for x, g in zip(xs, once):
        np.testing.assert_allclose(x.grad.data, g, rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_reused_work_arrays_never_touch_what_a_caller_holds(kind):
    check_reused_work_arrays(lambda *xs: FUNCTIONS[kind](*xs, time_axis=1),
                             *(inputs(kind, 4, 3, 5, seed=seed, time_axis=1)
                               for seed in (3, 7, 11)))


def test_unused_outputs_and_constant_states_get_no_gradient():
    xw, W_h, b_h, h, c = (cr.Variable(a) for a in inputs("lstm", 3, 2, 2))
    hs, _, _ = F.lstm(xw, W_h, b_h)  # zero initial state: constants
    hs.sum().backward()
    assert xw.grad.shape == xw.shape and W_h.grad.shape == W_h.shape
    assert b_h.grad.shape == b_h.shape and h.grad is None


def test_float32_stays_float32():
    arrays = [a.astype(np.float32) for a in inputs("gru", 3, 2, 2)]
    xs = [cr.Variable(a) for a in arrays]
    hs, h = F.gru(*xs)
    hs.sum().backward()
    assert hs.dtype == np.float32 and all(x.grad.dtype == np.float32 for x in xs)


def lookup(steps, batch, hidden, vocab, seed, time_axis=0):
    """A table (V, 4H), ids in time_axis's layout, then W_h, b_h, h, c: lstm's ids form."""
    shape = (steps, batch) if time_axis == 0 else (batch, steps)
    ids = np.random.default_rng(seed).integers(0, vocab, shape)
    return random_array(seed, (vocab, 4 * hidden)), ids, inputs("lstm", steps, batch, hidden,
                                                                 seed + 1)[1:]


@pytest.mark.parametrize(("time_axis", "reverse"), [(0, False), (1, True)])
def test_lstm_of_a_table_through_ids_is_lstm_of_its_rows(time_axis, reverse):
    table, ids, rest = lookup(4, 3, 2, 5, seed=12, time_axis=time_axis)
    xs = [cr.Variable(a) for a in [table, *rest]]
    options = {"time_axis": time_axis, "reverse": reverse}
    got = F.lstm(*xs, ids=ids, **options)
    want = F.lstm(F.embedding(ids, xs[0]), *xs[1:], **options)
    for y, ref in zip(got, want):
        np.testing.assert_allclose(y.data, ref.data, rtol=1e-12, atol=1e-15)
    gy = cr.Variable(np.random.default_rng(1).standard_normal(flat(got).shape))
    for g, ref in zip(cr.grad(flat(got), xs, gy), cr.grad(flat(want), xs, gy)):
        np.testing.assert_allclose(g.data, ref.data, rtol=1e-10, atol=1e-12)


def test_lstm_through_ids_plain_backward_equals_the_recorded_one():
    table, ids, rest = lookup(6, 3, 4, 5, seed=15)
    xs = [cr.Variable(a) for a in [table, *rest]]
    gy = np.random.default_rng(0).standard_normal(flat(F.lstm(*xs, ids=ids)).shape)
    plain = cr.grad(flat(F.lstm(*xs, ids=ids)), xs, cr.Variable(gy))
    recorded = cr.grad(flat(F.lstm(*xs, ids=ids)), xs, cr.Variable(gy), create_graph=True)
    for g, r in zip(plain, recorded):
        assert r.creator is not None
        np.testing.assert_allclose(g.data, r.data, rtol=1e-10, atol=1e-12)


def test_lstm_through_ids_reused_work_arrays_never_touch_what_a_caller_holds():
    (table, ids, rest), (other, _, more) = lookup(4, 3, 5, 6, 3, 1), lookup(4, 3, 5, 6, 7, 1)
    check_reused_work_arrays(lambda *xs: F.lstm(*xs, ids=ids, time_axis=1), [table, *rest],
                             [other, *more], [2 * a for a in [table, *rest]])


def test_lstm_through_ids_gradients_at_orders_1_and_2():
    table, ids, rest = lookup(3, 2, 2, 4, seed=13, time_axis=1)
    cr.gradcheck(lambda *xs: flat(F.lstm(*xs, ids=ids, time_axis=1, reverse=True)),
                 [table, *rest], order=2)


@given(steps=st.integers(1, 4), batch=st.integers(1, 3), hidden=st.integers(1, 3),
       vocab=st.integers(1, 4), seed=seeds)
def test_lstm_through_ids_gradients_over_random_sizes(steps, batch, hidden, vocab, seed):
    table, ids, rest = lookup(steps, batch, hidden, vocab, seed % 1000)
    cr.gradcheck(lambda *xs: flat(F.lstm(*xs, ids=ids)), [table, *rest])


def test_vmap_of_lstm_through_ids_runs_once_per_table():
    from chainrule.func import vmap

    table, ids, (W_h, b_h, h, c) = lookup(3, 2, 2, 4, seed=14)
    tables = np.stack([table, 2 * table])
    with pytest.warns(UserWarning, match="a table read through ids"):
        got = vmap(lambda tab: F.lstm(tab, W_h, b_h, h, c, ids=ids)[0])(tables)
    for one, tab in zip(got.data, tables):
        np.testing.assert_allclose(one, F.lstm(tab, W_h, b_h, h, c, ids=ids)[0].data,
                                   rtol=1e-12)


@pytest.mark.parametrize(("ids", "message"), [
    (np.zeros((2, 3)), r"lstm: ids must be non-empty \(T, N\) integers"),
    (np.zeros(3, dtype=int), r"lstm: ids must be non-empty \(T, N\) integers"),
    (np.full((2, 3), 5), r"lstm: with ids, xw must be a table \(V, 4·H\) with every id in"),
])
def test_bad_ids_name_the_operation(ids, message):
    with pytest.raises(ValueError, match=message):
        F.lstm(np.zeros((5, 8)), np.zeros((2, 8)), ids=ids)


@pytest.mark.parametrize(("args", "message"), [
    (((2, 3, 8), (2, 4)), r"lstm: W_h must be \(H, 4·H\), got shape \(2, 4\)"),
    (((2, 3, 6), (2, 8)), r"lstm: xw must be \(T, N, 8\) with time_axis 0"),
    (((2, 3, 8), (2, 8), (5,)), r"lstm: b_h must be \(8,\), got shape \(5,\)"),
    (((2, 3, 8), (2, 8), None, (2, 2)), r"lstm: h must be \(3, 2\) for xw of shape"),
])
def test_shape_errors_name_the_operation_and_shapes(args, message):
    arrays = [None if s is None else np.zeros(s) for s in args]
    with pytest.raises(ValueError, match=message):
        F.lstm(*arrays)
