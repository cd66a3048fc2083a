"""conv2d, conv_transpose2d, im2col, col2im vs loop references, central differences and torch."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.functions.conv import conv2d, conv_transpose2d
from chainrule.functions.im2col import col2im, im2col
from harness import check_op, compare_with_torch, random_array, seeds, torch

pairs = st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2), st.integers(1, 2)))
pads = st.one_of(st.integers(0, 1), st.tuples(st.integers(0, 1), st.integers(0, 1)))


def pair(v):
    return (v, v) if isinstance(v, int) else v


@st.composite
def geometries(draw):
    """(x shape, kernel, stride, pad) with the kernel fitting the padded input."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, pad = draw(pairs), draw(pads)
    h, w = (draw(st.integers(max(1, k - 2 * p), 5)) for k, p in zip(kernel, pair(pad)))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return (n, c, h, w), kernel, stride, pad


def windows_reference(x, kernel, stride, pad):
    """col[n, c, u, v, i, j] = xpad[n, c, i·sh + u, j·sw + v], by a loop over the kernel."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, pair(stride), pair(pad)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    col = np.empty(x.shape[:2] + (kh, kw, oh, ow))
    for u in range(kh):
        for v in range(kw):
            col[:, :, u, v] = xpad[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw][:, :, :oh, :ow]
    return col


def conv2d_reference(x, W, b, stride, pad):
    col = windows_reference(x, W.shape[2:], stride, pad)
    return np.einsum("ncuvij,ocuv->noij", col, W) + b[None, :, None, None]


@settings(max_examples=12)
@given(geometry=geometries(), out_channels=st.integers(1, 2), seed=seeds)
def test_conv2d_matches_loops_torch_and_differentiates_twice(geometry, out_channels, seed):
    shape, kernel, stride, pad = geometry
    x = random_array(seed, shape)
    W = random_array(seed + 1, (out_channels, shape[1]) + kernel)
    b = random_array(seed + 2, (out_channels,))
    check_op(
        lambda x, W, b: conv2d(x, W, b, stride, pad), [x, W, b],
        lambda x, W, b: conv2d_reference(x, W, b, stride, pad),
        torch_fn=lambda x, W, b: torch.nn.functional.conv2d(x, W, b, pair(stride), pair(pad)),
    )


@settings(max_examples=12)
@given(geometry=geometries(), out_channels=st.integers(1, 2), seed=seeds)
def test_conv_transpose2d_is_the_adjoint_of_conv2d_and_matches_torch(geometry, out_channels, seed):
    shape, kernel, stride, pad = geometry
    x = random_array(seed, shape)
    W = random_array(seed + 1, (out_channels, shape[1]) + kernel)
    y = conv2d(x, W, None, stride, pad).data
    gy = random_array(seed + 2, y.shape)
    sizes = [(n - 1) * s - 2 * p + k
             for n, s, p, k in zip(y.shape[2:], pair(stride), pair(pad), kernel)]
    assume(min(sizes) > 0)  # else the transposed output is empty (torch refuses it too)
    # <conv2d(x), gy> = <x, conv_transpose2d(gy)> whenever the sizes round-trip
    if conv_transpose2d(gy, W, None, stride, pad).shape == shape:
        back = conv_transpose2d(gy, W, None, stride, pad).data
        np.testing.assert_allclose(np.sum(y * gy), np.sum(x * back), rtol=1e-10)
    b = random_array(seed + 3, (shape[1],))
    check_op(
        lambda gy, W, b: conv_transpose2d(gy, W, b, stride, pad), [gy, W, b],
        torch_fn=lambda gy, W, b: torch.nn.functional.conv_transpose2d(
            gy, W, b, pair(stride), pair(pad)),
    )


@settings(max_examples=10)
@given(geometry=geometries(), seed=seeds)
def test_im2col_gathers_windows_and_col2im_is_its_adjoint(geometry, seed):
    shape, kernel, stride, pad = geometry
    x = random_array(seed, shape)
    check_op(lambda x: im2col(x, kernel, stride, pad, to_matrix=False), [x],
             lambda x: windows_reference(x, kernel, stride, pad))
    col = random_array(seed + 1, windows_reference(x, kernel, stride, pad).shape)
    back = col2im(col, shape, kernel, stride, pad, to_matrix=False)
    np.testing.assert_allclose(np.sum(im2col(x, kernel, stride, pad, False).data * col),
                               np.sum(x * back.data), rtol=1e-10)
    check_op(lambda c: col2im(c, shape, kernel, stride, pad, to_matrix=False), [col])


def test_conv2d_gradients_are_differentiable_in_the_output_gradient():
    """Conv2dGradW and conv_transpose2d (conv2d's backward) differentiate in x, W and gy."""
    x, W = random_array(0, (2, 2, 5, 4)), random_array(1, (3, 2, 3, 2))
    gy = random_array(2, (2, 3, 3, 3))

    def input_and_weight_grads(x, W, gy):
        gx, gW = cr.grad(conv2d(x, W, None, 2, 1), [x, W], grad_outputs=[gy], create_graph=True)
        return (gx * gx).sum() + (gW * gW).sum()

    # grad_output given: gradcheck would otherwise probe the output shape under no_grad
    cr.gradcheck(input_and_weight_grads, [x, W, gy], grad_output=np.array(1.0), order=2)


def test_conv2d_keeps_float32_and_channels_major_inputs_work():
    rng = np.random.default_rng(0)
    x = cr.Variable(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    W = cr.Variable(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    b = cr.Variable(np.zeros(4, np.float32))
    h = conv2d(x, W, b, 1, 1)  # conv outputs are stored channels-major
    W2 = cr.Variable(rng.standard_normal((2, 4, 3, 3)).astype(np.float32))
    y = conv_transpose2d(conv2d(h, W2, None, 2, 1), W2, None, 2, 1)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == h.dtype == np.float32
    assert x.grad.dtype == W.grad.dtype == b.grad.dtype == W2.grad.dtype == np.float32
    expected = conv2d(np.ascontiguousarray(h.data), W2, None, 2, 1).data
    np.testing.assert_allclose(conv2d(h.data, W2, None, 2, 1).data, expected, rtol=1e-6)


def test_conv2d_skips_the_input_gradient_when_the_input_needs_none():
    x = cr.Variable(random_array(0, (1, 1, 4, 4)), requires_grad=False)
    W = cr.Variable(random_array(1, (2, 1, 3, 3)))
    conv2d(x, W).backward()
    assert x.grad is None and W.grad.shape == (2, 1, 3, 3)


def test_conv2d_with_stride_that_drops_rows_gives_them_zero_gradient():
    x = random_array(0, (1, 1, 6, 6))
    W = random_array(1, (1, 1, 2, 2))
    xv = cr.Variable(x)
    conv2d(xv, W, None, 3).backward()  # windows start at 0 and 3, covering rows 0-1 and 3-4
    np.testing.assert_array_equal(xv.grad.data[:, :, 5], 0)
    np.testing.assert_array_equal(xv.grad.data[:, :, 2], 0)
    compare_with_torch(lambda x, W: conv2d(x, W, None, 3),
                       lambda x, W: torch.nn.functional.conv2d(x, W, None, 3), [x, W])


def test_conv2d_channel_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"conv2d: .*3 channels.*\(4, 2, 3, 3\).*\(1, 3, 5, 5\)"):
        conv2d(np.ones((1, 3, 5, 5)), cr.Variable(np.ones((4, 2, 3, 3))))


def test_conv2d_kernel_larger_than_padded_input_raises():
    with pytest.raises(ValueError, match=r"conv2d: kernel \(5, 5\) is larger .*\(4, 4\)"):
        conv2d(np.ones((1, 1, 2, 2)), cr.Variable(np.ones((1, 1, 5, 5))), pad=1)


def test_conv_transpose2d_channel_mismatch_and_bad_stride_raise():
    with pytest.raises(ValueError, match=r"conv_transpose2d: input has 2 channels"):
        conv_transpose2d(np.ones((1, 2, 3, 3)), cr.Variable(np.ones((3, 1, 2, 2))))
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair"):
        conv2d(np.ones((1, 1, 3, 3)), cr.Variable(np.ones((1, 1, 2, 2))), stride=(1, 2, 3))
    with pytest.raises(ValueError, match=r"col2im: col must be \(N, C, KH, KW, OH, OW\)"):
        col2im(cr.Variable(np.ones((1, 1, 2, 2, 3, 3))), (1, 1, 5, 5), 2, to_matrix=False)


@pytest.mark.parametrize("kernel, pad", [((3, 3), (1, 1)), ((3, 2), (0, 1)), ((2, 3), (1, 0))])
def test_stride_one_paths_match_the_loops_across_images_and_repeated_calls(kernel, pad):
    """Stride 1 runs on the wide im2col, padded GEMM rows and the transposed conv's sum of
    shifted views, whose shifts run across image frames; scratch buffers come back with the
    zeros they keep. Several images, float64 and float32, each call against the loop
    reference, and central differences and torch on the float64 one."""
    for seed, dtype in enumerate([np.float64, np.float32, np.float64]):
        x = random_array(seed, (3, 2, 6, 5)).astype(dtype)
        W = random_array(seed + 10, (4, 2) + kernel).astype(dtype)
        b = random_array(seed + 20, (4,)).astype(dtype)
        y = conv2d(x, W, b, 1, pad)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(y.data, conv2d_reference(x, W, b, 1, pad), rtol=rtol,
                                   atol=rtol)
        gy = random_array(seed + 30, y.shape).astype(dtype)
        # conv2d's input gradient: gy scattered back through every window, by loops
        back = np.zeros((3, 2, 6 + 2 * pad[0], 5 + 2 * pad[1]))
        for u in range(kernel[0]):
            for v in range(kernel[1]):
                back[:, :, u:u + gy.shape[2], v:v + gy.shape[3]] += np.einsum(
                    "noij,oc->ncij", gy, W[:, :, u, v])
        back = back[:, :, pad[0]:pad[0] + 6, pad[1]:pad[1] + 5]
        np.testing.assert_allclose(conv_transpose2d(gy, W, None, 1, pad).data, back,
                                   rtol=rtol, atol=rtol * 10)
    x, W = random_array(5, (2, 2, 4, 4)), random_array(6, (2, 2) + kernel)
    check_op(lambda x, W: conv2d(x, W, None, 1, pad), [x, W], order=1,
             torch_fn=lambda x, W: torch.nn.functional.conv2d(x, W, None, 1, pad))


def test_conv2d_with_few_taps_gathers_narrow_columns_and_matches_loops_and_torch():
    """C·kh·kw <= O (a first layer on one channel): the im2col matrix holds only output
    columns, and the weight gradient reads it as it is."""
    x, W, b = random_array(0, (3, 1, 6, 5)), random_array(1, (10, 1, 3, 3)), random_array(2, (10,))
    for dtype in (np.float64, np.float32):
        y = conv2d(x.astype(dtype), W.astype(dtype), b.astype(dtype), 1, 1)
        np.testing.assert_allclose(y.data, conv2d_reference(x, W, b, 1, 1), rtol=1e-5, atol=1e-5)
    check_op(lambda x, W, b: conv2d(x, W, b, 1, 1), [x[:2, :, :4, :4], W, b], order=1,
             reference=lambda x, W, b: conv2d_reference(x, W, b, 1, 1),
             torch_fn=lambda x, W, b: torch.nn.functional.conv2d(x, W, b, 1, 1))


@pytest.mark.parametrize("images_a_chunk", [1, 2])
def test_stride_one_convolutions_in_chunks_of_images_equal_one_chunk(monkeypatch,
                                                                     images_a_chunk):
    """conv2d's wide columns, its weight gradient and conv_transpose2d run by chunks of
    images (a last chunk shorter): values and gradients equal the one-chunk ones."""
    from chainrule.functions import conv_columns

    x, W, b = random_array(0, (5, 3, 6, 5)), random_array(1, (4, 3, 3, 3)), random_array(2, (4,))
    gy = random_array(3, (5, 4, 6, 5))

    def run():
        xv, Wv, bv = cr.Variable(x), cr.Variable(W), cr.Variable(b)
        y = conv2d(xv, Wv, bv, 1, 1)
        grads = cr.grad(y, [xv, Wv, bv], grad_outputs=[gy])
        back = conv_transpose2d(gy, W, None, 1, 1)
        return [y.data, back.data] + [g.data for g in grads]

    whole = run()
    # per image: the second conv's columns (27 rows) and the transposed conv's taps (27 rows)
    per_thread = -(-images_a_chunk * 27 * 8 * 8 * 7 // conv_columns.backend_threads.threads())
    monkeypatch.setattr(conv_columns, "CHUNK_BYTES", per_thread)
    for got, expected in zip(run(), whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(whole[0], conv2d_reference(x, W, b, 1, 1), rtol=1e-12)


def test_weight_gradient_over_a_long_batch_in_pieces_equals_the_sum():
    """A thin weight gradient over many pixels (9 taps × 16 outputs over 40 images of 28 × 28)
    is multiplied in pieces along the pixels: it equals the sum over every window."""
    from chainrule.functions.conv_columns import thin_product

    a, b = random_array(0, (9, 30000)), random_array(1, (30000, 16))
    np.testing.assert_allclose(thin_product(a, b), a @ b, rtol=1e-12, atol=1e-9)
    x, W = random_array(2, (40, 1, 28, 28)), cr.Variable(random_array(3, (16, 1, 3, 3)))
    y = conv2d(x, W, None, 1, 1)
    gy = random_array(4, y.shape)
    y.backward(gy)
    expected = np.einsum("ncuvij,noij->ocuv", windows_reference(x, (3, 3), 1, 1), gy)
    np.testing.assert_allclose(W.grad.data, expected, rtol=1e-10)
