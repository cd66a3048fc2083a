"""backend_threads: a split elementwise call gives the unsplit result bit for bit."""

import os
import threading

import numpy as np
import pytest

from chainrule import backend_threads


@pytest.fixture
def threads(monkeypatch):
    """Split everything over ``n`` threads (3 by default: an odd count, uneven slabs)."""
    monkeypatch.setattr(backend_threads, "MIN_BYTES", 0)
    monkeypatch.setattr(backend_threads._Pool, "LOSSES", 1 << 30)  # tiny splits always lose
    before = backend_threads.threads()

    def use(n=3):
        backend_threads.set_threads(n)

    use()
    yield use
    backend_threads.set_threads(before)


def split_and_plain(f, *inputs, out_shape, dtype=np.float32, layout=None, **kwargs):
    """(split result, plain NumPy result) of ufunc ``f`` into fresh outputs."""
    outs = [np.full(out_shape, -7, dtype) for _ in range(2)]
    if layout is not None:
        outs = [layout(o) for o in outs]
    backend_threads.ufunc(f, *inputs, out=outs[0], **kwargs)
    f(*inputs, out=outs[1], **kwargs)
    return outs


@pytest.mark.parametrize("shape", [(7, 5), (3, 1, 4), (2, 9), (101,), (4, 3, 5, 2)])
def test_split_equals_numpy_bit_for_bit(threads, shape):
    rng = np.random.default_rng(0)
    a = rng.normal(size=shape).astype(np.float32)
    b = rng.normal(size=shape[-1:]).astype(np.float32)  # broadcast along the leading axes
    for f, inputs in [(np.maximum, (a, 0)), (np.multiply, (a, b)), (np.exp, (a,)),
                      (np.add, (a, np.float32(0.1)))]:
        split, plain = split_and_plain(f, *inputs, out_shape=shape)
        np.testing.assert_array_equal(split, plain)


def test_transposed_and_strided_outputs(threads):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3, 4, 6)).astype(np.float32)
    channels_major = lambda o: o.transpose(1, 0, 2, 3)  # noqa: E731 (stored (3, 5, 4, 6))
    split, plain = split_and_plain(np.maximum, x, 0, out_shape=(3, 5, 4, 6),
                                   layout=channels_major)
    np.testing.assert_array_equal(split, plain)
    big = np.zeros((5, 3, 8, 12), np.float32)
    backend_threads.ufunc(np.multiply, x, 2.0, out=big[:, :, 1::2, ::2])
    np.testing.assert_array_equal(big[:, :, 1::2, ::2], x * 2)
    assert not big[:, :, 0::2].any() and not big[:, :, :, 1::2].any()


def test_in_place_and_overlapping(threads):
    x = np.arange(40, dtype=np.float64).reshape(8, 5)
    expected = x * 3
    backend_threads.ufunc(np.multiply, x, 3.0, out=x)  # in place: out is the input itself
    np.testing.assert_array_equal(x, expected)
    y = np.arange(41, dtype=np.float64)
    expected = y[:-1] + y[1:]
    backend_threads.ufunc(np.add, y[:-1], y[1:], out=y[1:])  # shifted overlap: unsplit
    np.testing.assert_array_equal(y[1:], expected)


def test_dtype_keyword_and_split_helper(threads):
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    out = np.empty((6, 2), np.float64)
    backend_threads.ufunc(np.add, x, x, out=out, dtype=np.float64)
    np.testing.assert_array_equal(out, x.astype(np.float64) * 2)

    def relu_grad(o, gy, y):  # two passes fused per slab
        np.multiply(gy, y != 0, out=o)

    gy, y = np.ones((9, 4)), np.arange(-18, 18.0).reshape(9, 4)
    got = backend_threads.split(relu_grad, np.empty((9, 4)), gy, y)
    np.testing.assert_array_equal(got, (y != 0).astype(float))


def test_worker_errors_reach_the_caller(threads):
    calls = []

    def fails_on_later_slabs(o, x):
        calls.append(len(o))
        if o.base is not None and x[0] > 0:
            raise FloatingPointError("bad slab")
        o[...] = x

    with pytest.raises(FloatingPointError, match="bad slab"):
        backend_threads.split(fails_on_later_slabs, np.empty(9), np.arange(9.0))
    assert sorted(calls) == [3, 3, 3]
    out = backend_threads.ufunc(np.negative, np.arange(9.0), out=np.empty(9))  # still works
    np.testing.assert_array_equal(out, -np.arange(9.0))


def test_small_or_single_thread_runs_unsplit(monkeypatch):
    seen = []
    record = lambda o, x: seen.append(o.shape)  # noqa: E731
    backend_threads.split(record, np.empty((64, 2)), np.ones((64, 2)))  # under MIN_BYTES
    monkeypatch.setattr(backend_threads, "MIN_BYTES", 0)
    monkeypatch.setattr(backend_threads._Pool, "LOSSES", 1 << 30)  # tiny splits always lose
    before = backend_threads.threads()
    try:
        backend_threads.set_threads(1)
        backend_threads.split(record, np.empty((64, 2)), np.ones((64, 2)))
    finally:
        backend_threads.set_threads(before)
    assert seen == [(64, 2), (64, 2)]


def test_thread_count_follows_the_blas_setting(monkeypatch):
    for name in backend_threads.ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert backend_threads.default_threads() >= 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # bench/distributed.py: one thread per rank
    assert backend_threads.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert backend_threads.default_threads() == 3
    with pytest.raises(ValueError, match="set_threads"):
        backend_threads.set_threads(0)


def test_concurrent_callers_each_get_their_result(threads):
    rng = np.random.default_rng(2)
    inputs = [rng.normal(size=(50, 7)) for _ in range(4)]
    results = [None] * 4

    def work(i):
        for _ in range(20):
            results[i] = backend_threads.ufunc(np.tanh, inputs[i], out=np.empty((50, 7)))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for x, y in zip(inputs, results):
        np.testing.assert_array_equal(y, np.tanh(x))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_its_own_workers(threads):
    x = np.arange(30.0).reshape(10, 3)
    backend_threads.ufunc(np.sqrt, x, out=np.empty_like(x))  # the parent's workers exist
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's workers are gone
        ok = np.array_equal(backend_threads.ufunc(np.sqrt, x, out=np.empty_like(x)), np.sqrt(x))
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"


def test_the_callers_errstate_holds_in_every_slab(threads):
    x = np.array([1.0, 2.0, 3.0, 4.0, -1.0, 5.0])  # only a worker's slab is invalid
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        backend_threads.ufunc(np.sqrt, x, out=np.empty(6))
    with np.errstate(invalid="ignore"):
        got = backend_threads.ufunc(np.sqrt, x, out=np.empty(6))
    np.testing.assert_array_equal(np.isnan(got), x < 0)


def test_parallel_for_covers_the_range_once(threads):
    seen = []
    lock = threading.Lock()

    def record(lo, hi):
        with lock:
            seen.append((lo, hi))

    backend_threads.parallel_for(record, 10, nbytes=1 << 30)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
    seen.clear()
    backend_threads.parallel_for(record, 2, nbytes=1 << 30)  # fewer items than threads
    assert sorted(seen) == [(0, 1), (1, 2)]


def test_an_idle_worker_holds_no_slab_of_the_output(threads):
    """Else the output's refcount stays up after the call, and Scratch.result, which reuses
    an array only when nothing refers to it, keeps making new ones."""
    import sys

    out = np.empty(9)
    before = sys.getrefcount(out)
    backend_threads.ufunc(np.negative, np.arange(9.0), out=out)
    assert sys.getrefcount(out) == before


def test_splits_that_keep_losing_pause(threads, monkeypatch):
    """A split slower than its caller's cut scaled to the whole range loses; LOSSES losses net
    of wins pause splitting for PAUSE calls, which run unsplit on the caller's thread."""
    monkeypatch.setattr(backend_threads._Pool, "LOSSES", 3)
    monkeypatch.setattr(backend_threads._Pool, "PAUSE", 5)
    backend_threads.set_threads(2)
    pool = backend_threads._pool
    pool.judge(took=2.0, alone=1.0)
    pool.judge(took=0.5, alone=1.0)  # a win takes one loss back
    pool.judge(took=2.0, alone=1.0)
    pool.judge(took=2.0, alone=1.0)
    assert pool.paused == 0
    pool.judge(took=2.0, alone=1.0)
    assert pool.paused == 5
    caller = threading.get_ident()
    cuts = []

    def record(lo, hi):
        cuts.append(threading.get_ident() == caller)

    for _ in range(5):  # paused: one cut each, on the caller
        backend_threads.parallel_for(record, 2, nbytes=1 << 30)
    assert cuts == [True] * 5
    cuts.clear()
    backend_threads.parallel_for(record, 2, nbytes=1 << 30)  # the pause is over
    assert sorted(cuts) == [False, True]
