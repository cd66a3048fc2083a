"""The two Functions behind per-sample weight gradients: RowTimesMatrix and SampleOuter.

Checked as every op is (float64 central differences to order 2, forward mode, hypothesis
shapes), and their results, which come from scratch's result pool when large, are never
overwritten while a caller holds them.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from chainrule import backend_threads
from chainrule.backend import scratch
from chainrule.core import ops
from chainrule.func import batch_rules, grad, vmap
from chainrule.func.batch_rules import RowTimesMatrix, SampleOuter
from harness import check_op, random_array, seeds

sides = st.integers(min_value=1, max_value=4)


@given(sides, sides, sides, seeds)
def test_row_times_matrix(batch, n, m, seed):
    a, b = random_array(seed, (batch, n)), random_array(seed + 1, (batch, n, m))
    check_op(lambda a, b: RowTimesMatrix()(a, b), [a, b],
             reference=lambda a, b: np.einsum("si,sij->sj", a, b))


@given(sides, sides, sides, seeds)
def test_row_times_a_matrix_repeated_for_every_sample(batch, n, m, seed):
    """The stride-0 b of vmap(grad): one GEMM, the same values and derivatives."""
    a, w = random_array(seed, (batch, n)), random_array(seed + 1, (n, m))

    def f(a, w):
        return RowTimesMatrix()(a, ops.broadcast_to(ops.reshape(w, (1, n, m)), (batch, n, m)))

    check_op(f, [a, w], reference=lambda a, w: a @ w)


@given(sides, sides, sides, seeds)
def test_sample_outer(batch, n, m, seed):
    a, g = random_array(seed, (batch, n)), random_array(seed + 1, (batch, m))
    check_op(lambda a, g: SampleOuter()(a, g), [a, g],
             reference=lambda a, g: a[:, :, None] * g[:, None, :])


def test_sample_outer_in_chunks_and_over_threads_equals_one_product(monkeypatch):
    """Chunks of two samples (the last one short) inside uneven cuts over three threads."""
    rng = np.random.default_rng(1)
    a = cr.Variable(rng.standard_normal((5, 7)).astype(np.float32))
    g = cr.Variable(rng.standard_normal((5, 3)).astype(np.float32))
    before = backend_threads.threads()
    monkeypatch.setattr(backend_threads, "MIN_BYTES", 0)
    try:
        backend_threads.set_threads(1)
        whole = SampleOuter()(a, g).data.copy()
        monkeypatch.setattr(batch_rules, "CHUNK_BYTES", 2 * 7 * 3 * 4)
        chunked = SampleOuter()(a, g).data.copy()
        backend_threads.set_threads(3)  # uneven cuts of the batch: 1, 2 and 2 samples
        np.testing.assert_array_equal(SampleOuter()(a, g).data, whole)
    finally:
        backend_threads.set_threads(before)
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(whole, a.data[:, :, None] * g.data[:, None, :])


def test_sample_outer_of_an_empty_batch():
    y = SampleOuter()(cr.Variable(np.ones((0, 3))), cr.Variable(np.ones((0, 2))))
    assert y.shape == (0, 3, 2)


def test_sample_outer_of_mixed_dtypes_is_the_wider_one():
    a = cr.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    g = cr.Variable(np.ones((2, 2)))
    y = SampleOuter()(a, g)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.data, a.data[:, :, None] * g.data[:, None, :])


def loss(params, x, t):
    W, b = params
    return F.softmax_cross_entropy(F.linear(x[None], W, b), t[None])


def test_large_per_sample_gradients_are_never_overwritten_while_held():
    """The weight gradients here are 8 × 128 × 128 float64 (1 MiB): from the result pool.
    A held result keeps its values through later calls; a dropped one's memory is reused."""
    rng = np.random.default_rng(0)
    params = [cr.Variable(rng.standard_normal((128, 128))), cr.Variable(np.zeros(128))]
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))

    data = {seed: (rng.standard_normal((8, 128)), rng.integers(0, 128, 8)) for seed in range(5)}

    def call(seed):
        return per_sample(params, *data[seed])

    first = call(1)[0]
    kept = first.data.copy()
    second = call(2)[0]
    assert not np.shares_memory(first.data, second.data)
    np.testing.assert_array_equal(first.data, kept)
    view = second.data[2:]  # a view holds its base: the base is not reused either
    kept_view = view.copy()
    third = call(3)[0]
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(view, kept_view)
    assert not np.shares_memory(third.data, view)
    address = third.data.__array_interface__["data"][0]
    del third
    again = call(4)[0]
    assert again.data.__array_interface__["data"][0] == address  # the dropped one came back
    x, t = data[4]
    one = grad(loss)(params, cr.Variable(x[0]), t[0])[0]
    np.testing.assert_allclose(again.data[0], one.data, rtol=1e-12, atol=1e-15)
    # written once: the array vmap returns is SampleOuter's own output, no copy after it
    pooled = scratch.results[("SampleOuter", (8, 128, 128), np.dtype(np.float64))]
    assert any(again._data is p for p in pooled)
