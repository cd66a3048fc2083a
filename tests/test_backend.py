import platform
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule import backend
from harness import broadcast_shapes


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


def test_scratch_give_of_a_view_keeps_the_array_that_was_taken():
    from chainrule.backend import Scratch

    pool = Scratch()
    a = pool.take("m", np, (4, 6), np.float32)
    pool.give("m", a[:, :5].T)  # a slice of it, transposed: a view of a view
    assert pool.take("m", np, (4, 6), np.float32) is a
    assert pool.take("m", np, (5, 4), np.float32) is not a  # never kept under the view's shape


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_results_of_activations_and_conv_survive_later_steps(activation):
    import chainrule as cr
    import chainrule.functions as F

    act = getattr(F, activation)
    x = cr.Variable(np.random.default_rng(0).normal(size=(8, 4, 16, 16)).astype(np.float32))
    W = cr.Variable(np.random.default_rng(1).normal(size=(6, 4, 3, 3)).astype(np.float32))
    b = cr.Variable(np.zeros(6, np.float32))
    first = act(F.conv2d(x, W, b, pad=1))
    kept = first.data.copy()
    h = cr.Variable(first.data * 3)  # a leaf: its gradient is the activation's own result
    act(h).backward(cr.Variable(first.data))
    kept_grad = h.grad.data.copy()
    for _ in range(3):  # later steps of the same shapes must not write into either
        act(F.conv2d(x * 2.0, W, b, pad=1)).sum().backward()
        act(cr.Variable(first.data * 2)).backward(cr.Variable(first.data))
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(h.grad.data, kept_grad)


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
@pytest.mark.parametrize("c", [0, -0.0, 0.5, -np.inf, 1e-46, -1e-46, 3])
def test_with_constant_matches_the_scalar_call_bit_for_bit(f, dtype, c):
    # more than a block, with edge values throughout; C order and a transposed layout
    c_order = np.resize(SPECIAL, (3, backend.CONSTANT_BLOCK // 2 + 7)).astype(dtype)
    for x in (c_order, np.ascontiguousarray(c_order.T).T):
        out = np.empty_like(x)
        assert backend.with_constant(f, x, c, out) is out
        made = backend.with_constant(f, x, c)  # without out: a new array in x's layout
        assert out.strides == made.strides == x.strides
        assert f(x, c).tobytes(order="A") == out.tobytes(order="A") == made.tobytes(order="A")


def test_with_constant_takes_the_plain_call_where_it_cannot_use_a_block():
    x = np.resize(SPECIAL, (4, 6))
    cases = [(x[:, ::2], 0.0, np.empty((4, 3))),  # x strided: not one block
             (x, 0.0, np.empty((6, 4)).T),  # out in another layout than x
             (x, np.nan, np.empty((4, 6)))]  # a NaN constant: no block kept for it
    for x, c, out in cases:
        np.testing.assert_array_equal(backend.with_constant(np.maximum, x, c, out),
                                      np.maximum(x, c))
    # without out, whatever x's dtype is not the result's: the plain call, its dtype
    for x, c in [(np.arange(4), 0.5), (np.ones(3, np.float32), np.float64(2)), (np.float32(1), 0)]:
        expected = np.maximum(x, c)
        got = backend.with_constant(np.maximum, x, c)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


WHERE_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                np.uint16, np.uint64]


def any_bits(dtype, shape):
    """Arrays of ``dtype`` with any bit pattern: every NaN payload, -0.0, ±inf, subnormals."""
    dtype = np.dtype(dtype)
    bits = np.dtype(f"i{dtype.itemsize}")
    special = np.array(SPECIAL, dtype if dtype.kind == "f" else np.float64).view(bits)
    info = np.iinfo(bits)
    elements = st.one_of(st.sampled_from(special.tolist()),
                         st.integers(int(info.min), int(info.max)))
    return hnp.arrays(bits, shape, elements=elements).map(lambda a: a.view(dtype))


@settings(max_examples=60)
@given(data=st.data(), dtype=st.sampled_from(WHERE_DTYPES),
       shapes3=broadcast_shapes(num_shapes=3, max_dims=4))
def test_where_is_numpys_where_bit_for_bit(data, dtype, shapes3):
    condition = data.draw(hnp.arrays(bool, shapes3[0]))
    a, b = data.draw(any_bits(dtype, shapes3[1])), data.draw(any_bits(dtype, shapes3[2]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backend, "SELECT_MIN_SIZE", 0)
        assert backend._bit_views(condition, a, b, None) is not None  # the bit-select runs
        got = backend.where(condition, a, b)
    expected = np.where(condition, a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.uint8])
@pytest.mark.parametrize("number", [0.0, -0.0, np.nan, -np.inf, 0.1, 3, -1, "scalar", "0-d"])
def test_where_with_a_number_is_numpys_where(dtype, number):
    """A Python number converts to the array's dtype as in NumPy's where (zero bits skip a
    pass); a NumPy scalar or 0-d array of the dtype broadcasts. Large: no patching."""
    condition = np.resize([True, False, False], (3, backend.SELECT_MIN_SIZE))
    x = np.resize(SPECIAL, condition.shape).astype(dtype)
    if number in ("scalar", "0-d"):
        number = dtype(7) if number == "scalar" else np.array(-0.0).astype(dtype)
    for a, b in ((x, number), (number, x), (x[:, :1], number)):
        expected = np.where(condition, a, b)
        got = backend.where(condition, a, b)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_where_writes_into_out_even_where_out_is_an_operand():
    rng = np.random.default_rng(0)
    shape = (4, backend.SELECT_MIN_SIZE)
    condition = rng.standard_normal(shape) > 0
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    expected = np.where(condition, a, b)
    for name in ("fresh", "a", "b", "transposed"):
        left, right = a.copy(), b.copy()  # b is read after out is written: NumPy's where
        out = {"fresh": np.empty(shape), "a": left, "b": right,
               "transposed": np.empty(shape[::-1]).T}[name]
        assert (backend._bit_views(condition, left, right, out) is None) == (name == "b")
        assert backend.where(condition, left, right, out=out) is out
        assert out.tobytes() == expected.tobytes()


def test_where_keeps_the_layout_of_a_full_operand():
    a = np.ones((backend.SELECT_MIN_SIZE, 4)).T  # channels-major, as conv outputs are kept
    got = backend.where(a > 0, a, 0.0)
    assert got.strides == a.strides


@pytest.mark.parametrize("case", ["complex", "bool", "mixed", "int condition", "wrapped int",
                                  "small", "byte-swapped", "long double", "subclass"])
def test_where_leaves_to_numpy_what_the_bit_select_cannot_do(case):
    n = backend.SELECT_MIN_SIZE
    condition, a, b = np.arange(n) % 3 == 0, np.arange(n, dtype=np.float32), np.float32(-1)
    if case == "complex":
        a = a * 1j
    elif case == "bool":
        a = a > 5
    elif case == "mixed":
        b = np.ones(n)  # float64: the result is float64
    elif case == "int condition":
        condition = np.arange(n) % 3  # where reads nonzero as true
    elif case == "wrapped int":
        a, b = a.astype(np.int8), 300  # where wraps 300 into int8 as 44
    elif case == "small":
        condition, a = condition[:10], a[:10]
    elif case == "long double":
        a = a.astype(np.longdouble)  # 16 bytes on x86-64: no integer that wide
    elif case == "byte-swapped":
        a, b = a.astype(">f4"), a[::-1].astype(">f4")  # where returns native float32
    else:
        a = a.view(np.ma.MaskedArray)
    assert backend._bit_views(condition, a, b, None) is None
    expected = np.where(condition, a, b)
    got = backend.where(condition, a, b)
    assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_where_of_cupy_arrays_is_cupys_where(monkeypatch):
    class FakeCupyArray:
        shape, size = (3,), 3

    calls = []
    cupy = types.SimpleNamespace(ndarray=FakeCupyArray,
                                 where=lambda *args: calls.append(args) or "cupy's")
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    condition = np.ones(backend.SELECT_MIN_SIZE, bool)
    a = FakeCupyArray()
    assert backend.where(condition, a, 0.0) == "cupy's" and calls == [(condition, a, 0.0)]
