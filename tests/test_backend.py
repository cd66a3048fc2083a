import platform

import numpy as np
import pytest

from chainrule import backend


def test_numpy_arrays_and_numbers_belong_to_numpy():
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(3.0) is np


@pytest.mark.parametrize("device, expected", [("cpu", ("cpu", 0)), ("CUDA", ("cuda", 0)),
                                              ("cuda:1", ("cuda", 1))])
def test_device_strings_are_normalised(device, expected):
    assert backend.parse_device(device) == expected


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu:0"])
def test_unknown_devices_are_refused_in_one_sentence(device):
    with pytest.raises(ValueError, match="unknown device"):
        backend.parse_device(device)


def test_to_cpu_is_the_same_numpy_array():
    a = np.arange(3.0)
    assert backend.to_device(a, "cpu") is a and backend.device_of(a) == "cpu"


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_names_the_extra():
    with pytest.raises(RuntimeError, match=r'pip install "chainrule\[gpu\]"'):
        backend.to_device(np.ones(2), "cuda")


@pytest.mark.parametrize("index", [np.array([0, 0, 2]), (slice(None), 1), 1])
def test_scatter_add_adds_every_repeat(index):
    target, values = np.zeros((3, 2)), np.ones((3, 2))[index]
    expected = np.zeros((3, 2))
    np.add.at(expected, index, values)
    backend.scatter_add(target, index, values)
    np.testing.assert_array_equal(target, expected)


@pytest.mark.parametrize(("rows", "width", "ids"), [(4, 300, 40), (4, 300, 6), (50, 8, 60)])
def test_scatter_add_of_many_rows_matches_add_at(rows, width, ids):
    """Wide rows in long runs are summed run by run, the rest by reduceat: both as add.at."""
    rng = np.random.default_rng(0)
    index = rng.integers(-rows, rows, (ids // 2, 2))  # negative ids count from the end
    values = rng.standard_normal((ids // 2, 2, width))
    target, expected = np.ones((rows, width)), np.ones((rows, width))
    np.add.at(expected, index, values)
    backend.scatter_add(target, index, values)
    np.testing.assert_allclose(target, expected, rtol=1e-12, atol=1e-12)


def test_keep_freed_memory_applies_on_glibc_only():
    from chainrule.app.allocator import keep_freed_memory

    applied = keep_freed_memory()
    assert applied == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    assert keep_freed_memory() == applied  # idempotent


def test_scratch_result_is_reused_only_when_nothing_outside_holds_it():
    from chainrule.backend import Scratch

    pool = Scratch()
    shape = (256, 1024)  # 1 MiB: large enough to be kept
    held = pool.result("t", np, shape, np.float32)
    held[...] = 1.0
    view = pool.result("t", np, shape, np.float32)[3:]  # only a view of the second is kept
    view[...] = 2.0
    fresh = pool.result("t", np, shape, np.float32)
    assert not np.shares_memory(fresh, held) and not np.shares_memory(fresh, view)
    fresh[...] = 3.0
    assert (held == 1.0).all() and (view == 2.0).all()
    address = fresh.__array_interface__["data"][0]
    del fresh
    again = pool.result("t", np, shape, np.float32)
    assert again.__array_interface__["data"][0] == address  # the dropped one came back
    assert pool.result("t", np, (4,), np.float32).shape == (4,)  # small: plain np.empty


def test_scratch_take_gives_back_by_tag_and_keeps_zero_borders():
    from chainrule.backend import Scratch

    pool = Scratch()
    a = pool.take("pad", np, (3, 3), np.float64, zeros=True)
    assert (a == 0).all()
    a[1, 1] = 5.0
    pool.give("pad", a)
    assert pool.take("other", np, (3, 3), np.float64) is not a  # another tag never gets it
    assert pool.take("pad", np, (3, 3), np.float64) is a
    pool.clear()
    assert pool.bytes == 0 and not pool.free


def test_results_of_relu_and_conv_survive_later_steps():
    import chainrule as cr
    import chainrule.functions as F

    x = cr.Variable(np.random.default_rng(0).normal(size=(8, 4, 16, 16)).astype(np.float32))
    W = cr.Variable(np.random.default_rng(1).normal(size=(6, 4, 3, 3)).astype(np.float32))
    b = cr.Variable(np.zeros(6, np.float32))
    first = F.relu(F.conv2d(x, W, b, pad=1))
    kept = first.data.copy()
    for _ in range(3):  # later steps of the same shapes must not write into `first`
        F.relu(F.conv2d(x * 2.0, W, b, pad=1)).sum().backward()
    np.testing.assert_array_equal(first.data, kept)


def test_large_linear_results_survive_later_calls():
    import chainrule as cr
    import chainrule.functions as F

    rng = np.random.default_rng(2)
    x = cr.Variable(rng.normal(size=(4, 256, 32)).astype(np.float32))  # result 512 KiB: pooled
    W = cr.Variable(rng.normal(size=(32, 128)).astype(np.float32))
    first = F.linear(x, W)
    kept = first.data.copy()
    for _ in range(3):
        F.linear(x * 2.0, W).sum().backward()
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_allclose(kept, x.data @ W.data, rtol=1e-5)


SPECIAL = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, 1.5, -2.5])


@pytest.mark.parametrize("f", [np.maximum, np.minimum])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("c", [0, -0.0, 0.5, -np.inf])
def test_with_constant_matches_the_scalar_call_bit_for_bit(f, dtype, c):
    # more than a block, with edge values throughout; C order and a transposed layout
    c_order = np.resize(SPECIAL, (3, backend.CONSTANT_BLOCK // 2 + 7)).astype(dtype)
    for x in (c_order, np.ascontiguousarray(c_order.T).T):
        out = np.empty_like(x)
        assert backend.with_constant(f, x, c, out) is out
        assert out.strides == x.strides
        assert f(x, c).tobytes(order="A") == out.tobytes(order="A")


def test_with_constant_takes_the_plain_call_where_it_cannot_use_a_block():
    x = np.resize(SPECIAL, (4, 6))
    cases = [(x[:, ::2], 0.0, np.empty((4, 3))),  # x strided: not one block
             (x, 0.0, np.empty((6, 4)).T),  # out in another layout than x
             (x, np.nan, np.empty((4, 6)))]  # a NaN constant: no block kept for it
    for x, c, out in cases:
        np.testing.assert_array_equal(backend.with_constant(np.maximum, x, c, out),
                                      np.maximum(x, c))
