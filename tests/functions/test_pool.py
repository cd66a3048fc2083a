"""max_pool2d and avg_pool2d against loop references, central differences and torch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.functions.conv import conv2d
from chainrule.functions.pool import avg_pool2d, max_pool2d
from harness import check_op, compare_with_torch, random_array, seeds, torch


def pair(v):
    return (v, v) if isinstance(v, int) else v


@st.composite
def pools(draw):
    """(x shape, kernel_size, stride, pad): ints or pairs, pad at most half the kernel."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.integers(1, 3),
                            st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    h, w = (draw(st.integers(max(1, k - 2 * p), 5)) for k, p in zip(kernel, pad))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    kernel_size = kernel[0] if kernel[0] == kernel[1] and draw(st.booleans()) else kernel
    return shape, kernel_size, stride, pad


def pool_reference(x, kernel_size, stride, pad, reduce, fill):
    (kh, kw), (ph, pw) = pair(kernel_size), pair(pad)
    sh, sw = pair(kernel_size if stride is None else stride)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    planes = [xpad[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw][:, :, :oh, :ow]
              for u in range(kh) for v in range(kw)]
    return reduce(np.stack(planes), axis=0)


def torch_pool(name, kernel_size, stride, pad):
    def pool(x):
        return getattr(torch.nn.functional, name)(x, pair(kernel_size), stride, pair(pad))
    return pool


@settings(max_examples=15)
@given(case=pools(), seed=seeds)
def test_max_pool2d_matches_loops_torch_and_differentiates_twice(case, seed):
    shape, kernel_size, stride, pad = case
    x = random_array(seed, shape)
    check_op(lambda x: max_pool2d(x, kernel_size, stride, pad), [x],
             lambda x: pool_reference(x, kernel_size, stride, pad, np.max, -np.inf),
             torch_fn=torch_pool("max_pool2d", kernel_size, stride, pad))


@settings(max_examples=15)
@given(case=pools(), seed=seeds)
def test_avg_pool2d_counts_padding_like_torch_and_differentiates_twice(case, seed):
    shape, kernel_size, stride, pad = case
    x = random_array(seed, shape)
    check_op(lambda x: avg_pool2d(x, kernel_size, stride, pad), [x],
             lambda x: pool_reference(x, kernel_size, stride, pad, np.mean, 0.0),
             torch_fn=torch_pool("avg_pool2d", kernel_size, stride, pad))


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d], ids=["max", "avg"])
def test_pool_gradient_is_differentiable_in_the_output_gradient(pool):
    """The gradient Functions' own backward (gather for max, avg_pool2d for avg)."""
    x = random_array(0, (2, 2, 5, 5))
    gy = random_array(1, (2, 2, 4, 4))

    def input_grad(gy):
        xv = cr.Variable(x)
        (gx,) = cr.grad(pool(xv, 2, 1, 0), [xv], grad_outputs=[gy], create_graph=True)
        return gx * gx

    # grad_output given: gradcheck would otherwise probe the output shape under no_grad
    cr.gradcheck(input_grad, [gy], grad_output=random_array(2, x.shape), order=2)


def test_max_pool2d_sends_ties_to_the_first_maximum_like_torch():
    x = np.ones((1, 1, 4, 4))
    xv = cr.Variable(x)
    max_pool2d(xv, 2).backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(xv.grad.data[0, 0], expected)
    compare_with_torch(lambda x: max_pool2d(x, 3, 1, 1),
                       lambda x: torch.nn.functional.max_pool2d(x, 3, 1, 1), [x])


def test_overlapping_max_windows_add_their_gradients():
    x = np.array([[[[0.0, 5.0, 1.0], [2.0, 3.0, 4.0]]]])
    xv = cr.Variable(x)
    max_pool2d(xv, 2, 1).backward()  # the 5 wins both windows
    np.testing.assert_array_equal(xv.grad.data, [[[[0, 2, 0], [0, 0, 0]]]])


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d], ids=["max", "avg"])
def test_pools_keep_float32_on_channels_major_conv_outputs(pool):
    rng = np.random.default_rng(0)
    x = cr.Variable(rng.standard_normal((3, 2, 6, 6)).astype(np.float32))
    W = cr.Variable(rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    h = conv2d(x, W, None, 1, 1)  # stored channels-major
    y = pool(h, 2)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == x.grad.dtype == W.grad.dtype == np.float32
    expected = pool(cr.Variable(np.ascontiguousarray(h.data)), 2)
    np.testing.assert_array_equal(y.data, expected.data)


@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 2, 1), (2, 1, 0)])
def test_max_pool2d_on_channels_major_input_equals_the_c_order_one(kernel, stride, pad):
    """A conv output (stored channels-major) is pooled in its own layout: the same maxima,
    the same first-maximum routing of ties, and the same gradient as its C-order copy, for
    an upstream gradient in either layout."""
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, size=(3, 2, 8, 8)).astype(np.float64)  # many ties
    W = rng.integers(-1, 2, size=(4, 2, 3, 3)).astype(np.float64)
    h = conv2d(x, W, None, 1, 1).data
    assert h.strides[1] > h.strides[0]  # channels-major
    gy = rng.normal(size=max_pool2d(h, kernel, stride, pad).shape)
    for upstream in (gy, np.ascontiguousarray(gy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)):
        grads = []
        for array in (h, np.ascontiguousarray(h)):
            hv = cr.Variable(array.copy() if array.flags.c_contiguous else array)
            y = max_pool2d(hv, kernel, stride, pad)
            y.backward(upstream)
            grads.append((y.data, hv.grad.data))
        np.testing.assert_array_equal(grads[0][0], grads[1][0])
        np.testing.assert_array_equal(grads[0][1], grads[1][1])


@pytest.mark.parametrize("pool, name", [(max_pool2d, "max_pool2d"), (avg_pool2d, "avg_pool2d")])
def test_pool_errors_name_the_op(pool, name):
    with pytest.raises(ValueError, match=rf"{name}: pad \(2, 2\) must be at most half"):
        pool(np.ones((1, 1, 6, 6)), 3, 1, 2)
    with pytest.raises(ValueError, match=rf"{name}: kernel \(4, 4\) is larger .*\(1, 1, 3, 3\)"):
        pool(np.ones((1, 1, 3, 3)), 4)
    with pytest.raises(TypeError, match=rf"{name}: kernel_size must be an int or a pair"):
        pool(np.ones((1, 1, 3, 3)), 2.5)


def pool_grad(pool, x, gy, *args):
    """x's gradient of pool(x, *args) under the upstream gradient gy."""
    xv = cr.Variable(np.array(x, dtype=float))
    y = pool(xv, *args)
    y.backward(np.broadcast_to(gy, y.shape).copy())
    return y.data, xv.grad.data


def test_max_pool2d_sends_an_infinite_gradient_to_the_maximum_only():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    _, gx = pool_grad(max_pool2d, x, np.inf, 2)
    np.testing.assert_array_equal(gx.ravel(), [0, 0, 0, np.inf])  # no 0·inf = NaN


def test_max_pool2d_gradient_of_gradient_gathers_without_leaking_inf():
    x = cr.Variable(np.arange(4.0).reshape(1, 1, 2, 2))
    gy = cr.Variable(np.ones((1, 1, 1, 1)))
    (gx,) = cr.grad(max_pool2d(x, 2), [x], grad_outputs=[gy], create_graph=True)
    (ggy,) = cr.grad(gx, [gy], grad_outputs=[np.array([np.inf, 1, 1, 2.0]).reshape(x.shape)])
    np.testing.assert_array_equal(ggy.data, [[[[2.0]]]])


@pytest.mark.parametrize("window, expected", [
    ([1, np.nan, 3, 2], [0, 1, 0, 0]),
    ([np.nan, 1, np.nan, 2], [0, 0, 1, 0]),  # PyTorch keeps the last NaN of the window
    ([np.inf, np.nan, 1, np.inf], [0, 1, 0, 0]),
    ([2, 2, 2, 2], [1, 0, 0, 0]),
])
def test_max_pool2d_routes_a_nan_window_to_its_nan_like_torch(window, expected):
    x = np.array(window, dtype=float).reshape(1, 1, 2, 2)
    y, gx = pool_grad(max_pool2d, x, 1.0, 2)
    assert np.isnan(y).item() == np.isnan(window).any()
    np.testing.assert_array_equal(gx.ravel(), expected)
    compare_with_torch(lambda x: max_pool2d(x, 2),
                       lambda x: torch.nn.functional.max_pool2d(x, 2), [x], atol=0)


def test_max_pool2d_never_routes_an_all_minus_inf_window_to_padding():
    x = np.full((1, 1, 2, 2), -np.inf)
    y, gx = pool_grad(max_pool2d, x, 1.0, 2, 1, 1)
    assert np.all(y == -np.inf)
    np.testing.assert_array_equal(gx.ravel(), [4, 2, 2, 1])  # each window's first real pixel
    x = np.array([[[[-np.inf, 5, -np.inf], [-np.inf, -np.inf, 0], [1, -np.inf, -np.inf]]]])
    for args in [(2, 1, 1), (3, 2, 1), ((3, 2), 1, (1, 0))]:
        _, gx = pool_grad(max_pool2d, x, 1.0, *args)
        assert gx.sum() == max_pool2d(x, *args).data.size
        compare_with_torch(lambda x: max_pool2d(x, *args),  # noqa: B023
                           torch_pool("max_pool2d", *args), [x], atol=0)


@pytest.mark.parametrize("pool, name", [(max_pool2d, "max_pool2d"), (avg_pool2d, "avg_pool2d")])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e300, 1e-300])
def test_pools_on_edge_values_match_torch(pool, name, value):
    x = random_array(3, (1, 2, 4, 4))
    x[0, 0, 1, 2] = x[0, 1, 0, 0] = x[0, 1, 3, 3] = value
    for args in [(2, None, 0), (3, 1, 1), (2, 1, 0)]:
        y, gx = pool_grad(pool, x, 1.0, *args)
        assert not np.isnan(gx).any()  # a unit upstream gradient never becomes NaN
        compare_with_torch(lambda x: pool(x, *args),  # noqa: B023
                           torch_pool(name, *args), [x], atol=0)


@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 2, 1), (2, 3, 0)])
def test_conv_relu_pool_split_over_threads_equals_one_thread(monkeypatch, kernel, stride, pad):
    """backend_threads splits conv's copies, bias add and fold, relu and the pools: every
    result and gradient equals the one-thread one bit for bit."""
    from chainrule import backend_threads
    from chainrule.functions import relu

    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 2, 10, 10)).astype(np.float32)
    x[0, 0, :2, :2] = 0.5  # a tie
    x[1, 1, 4, 4] = np.nan
    W = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    gy = rng.normal(size=(5, 3) + max_pool2d(np.zeros((1, 1, 10, 10)), kernel, stride, pad)
                    .shape[2:]).astype(np.float32)

    def run():
        xv, Wv, bv = cr.Variable(x.copy()), cr.Variable(W.copy()), cr.Variable(b.copy())
        y = max_pool2d(relu(conv2d(xv, Wv, bv, 1, 1)), kernel, stride, pad)  # channels-major
        grads = cr.grad(y, [xv, Wv, bv], grad_outputs=[gy])
        return [y.data] + [g.data for g in grads]

    monkeypatch.setattr(backend_threads, "MIN_BYTES", 0)
    monkeypatch.setattr(backend_threads._Pool, "LOSSES", 1 << 30)  # tiny splits always lose
    before = backend_threads.threads()
    try:
        backend_threads.set_threads(1)
        expected = run()
        backend_threads.set_threads(3)
        got = run()
    finally:
        backend_threads.set_threads(before)
    for a, e in zip(got, expected):
        np.testing.assert_array_equal(a, e)
