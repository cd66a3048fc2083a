"""Convolutions: conv2d, conv_transpose2d, and the im2col / col2im arrays they are built on
(the differentiable im2col and col2im, DeZero's, live in ``im2col.py``).

im2col is one strided view of the padded input: ``view[n, c, u, v, i, j] =
xpad[n, c, i·sh + u, j·sw + v]`` (no loop over pixels), copied into the matrix
the GEMM wants, (C·kh·kw, N·OH·OW), so ``y = W (O, C·kh·kw) @ col`` is ONE matrix
product whose (O, N, OH, OW) result is returned as a transposed view (N, O, OH, OW).
With stride 1 the columns are "wide" (N·OH·Wp, see ``_column_chunks``): one copy of
long contiguous runs, gathered and multiplied a chunk of images at a time; conv_transpose2d
sums kh·kw shifted views of its GEMM (``_transposed_wide``).
col2im adds kh·kw strided slices back (a loop over kernel offsets, not pixels).

Backward follows Chainer and DeZero: conv2d's gx is conv_transpose2d(gy, W),
its gW a ``Conv2dGradW`` whose own backward is conv2d / conv_transpose2d
again, so gradients of every order are convolutions.
"""

import operator

import numpy as np

from chainrule import backend_threads
from chainrule.backend import get_array_module, matrix_sums, scratch
from chainrule.core import Function, as_variable, ops
from chainrule.core.aliases import either
from chainrule.functions.tangent import total


def as_pair(value, what):
    """``(a, b)`` from an int or a pair of ints; ``what`` names the argument in errors."""
    try:
        if isinstance(value, (tuple, list)):
            pair = tuple(operator.index(v) for v in value)
        else:
            pair = (operator.index(value),) * 2
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}")
    return pair


def conv_geometry(x_shape, kernel, stride, pad):
    """Checked ``(OH, OW)`` of a kh×kw window sliding over ``x_shape`` (N, C, H, W).

    Called inside ``forward``: Function adds the op's name and the input shapes to the error.
    """
    if len(x_shape) != 4:
        raise ValueError(f"input must be (N, C, H, W), got shape {tuple(x_shape)}")
    if min(stride) < 1 or min(pad) < 0:
        raise ValueError(f"stride {stride} must be positive and pad {pad} non-negative")
    hp, wp = x_shape[2] + 2 * pad[0], x_shape[3] + 2 * pad[1]
    if kernel[0] > hp or kernel[1] > wp or min(kernel) < 1:
        raise ValueError(f"kernel {tuple(kernel)} is larger than the padded input {(hp, wp)}")
    return (hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1


def _padded(x, pad, fill):
    """x (N, C, H, W) inside a border of ``fill`` (x itself when there is no pad)."""
    (ph, pw), (n, c, h, w) = pad, x.shape
    if not (ph or pw):
        return x
    padded = get_array_module(x).full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


def window_view(x, kernel, stride, pad, fill=0):
    """The strided view (N, C, kh, kw, OH, OW) of every window of x padded with ``fill``."""
    x = _padded(x, pad, fill)
    (kh, kw), (sh, sw) = kernel, stride
    n, c, hp, wp = x.shape
    s_n, s_c, s_h, s_w = x.strides
    return get_array_module(x).lib.stride_tricks.as_strided(
        x, shape=(n, c, kh, kw, (hp - kh) // sh + 1, (wp - kw) // sw + 1),
        strides=(s_n, s_c, s_h, s_w, s_h * sh, s_w * sw),
    )


def zeros_nchw(xp, shape, dtype, channels_major):
    """Zeros of shape (N, C, H, W), stored (C, N, H, W) when ``channels_major`` (conv's layout)."""
    if not channels_major:
        return xp.zeros(shape, dtype=dtype)
    n, c, h, w = shape
    return xp.zeros((c, n, h, w), dtype=dtype).transpose(1, 0, 2, 3)


def is_channels_major(x):
    """True when x (N, C, H, W) is stored with C outermost, as conv2d's outputs are."""
    return x.shape[0] > 1 and x.shape[1] > 1 and x.strides[1] > x.strides[0]


def col2im_array(col, size, stride, pad, channels_major=False):
    """x (N, C, h, w) = Σ_{u,v} col[:, :, u, v] added at xpad[:, :, i·sh + u, j·sw + v], unpadded.

    The adjoint of ``window_view``: overlapping windows add up. Rows first, then columns:
    the kh row shifts add whole (OH, OW) planes (long contiguous runs when sh = 1), so only
    the kw column shifts pay NumPy's cost of short rows.
    """
    xp = get_array_module(col)
    n, c, kh, kw, oh, ow = col.shape
    (h, w), (sh, sw), (ph, pw) = size, stride, pad
    if channels_major:
        rows = xp.zeros((c, kw, n, h + 2 * ph, ow), dtype=col.dtype).transpose(2, 0, 1, 3, 4)
    else:
        rows = xp.zeros((n, c, kw, h + 2 * ph, ow), dtype=col.dtype)
    for u in range(kh):
        rows[:, :, :, u:u + sh * (oh - 1) + 1:sh] += col[:, :, u]
    x = zeros_nchw(xp, (n, c, h + 2 * ph, w + 2 * pw), col.dtype, channels_major)
    for v in range(kw):
        x[:, :, :, v:v + sw * (ow - 1) + 1:sw] += rows[:, :, v]
    return x[:, :, ph:ph + h, pw:pw + w]


def _columns(x, kernel, stride, pad):
    """im2col as the GEMM's matrix (C·kh·kw, N·OH·OW), gathered by two strided copies.

    First the kw column shifts (C, kw, N, Hp, OW), then the kh row shifts of those, which
    move whole (OH, OW) planes when sh = 1: faster than one copy of short rows.
    """
    xp = get_array_module(x)
    xpad = _padded(x, pad, 0)
    (kh, kw), (sh, sw) = kernel, stride
    n, c, hp, wp = xpad.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    s_n, s_c, s_h, s_w = xpad.strides
    shifts = xp.ascontiguousarray(xp.lib.stride_tricks.as_strided(
        xpad, shape=(c, kw, n, hp, ow), strides=(s_c, s_w, s_n, s_h, s_w * sw)))
    b_c, b_v, b_n, b_h, b_w = shifts.strides
    col = xp.lib.stride_tricks.as_strided(
        shifts, shape=(c, kh, kw, n, oh, ow), strides=(b_c, b_h, b_v, b_n, b_h * sh, b_w))
    return col.reshape(c * kh * kw, n * oh * ow), (oh, ow)


def _matrix(tag, xp, rows, cols, dtype, zeros=False):
    """A (rows, cols) scratch matrix for a GEMM, each row padded to an odd number of cache lines.

    A row of 4 KiB multiples (bench CNN's 7168 wide columns: 7 × 4 KiB) puts the 16 rows a
    GEMM kernel touches together in the same L1 cache set; OpenBLAS then ran the second conv's
    products 1.1-1.5x slower (its transposed conv's (144, 32) @ (32, 7168): 1.33 against
    0.86 ms, one thread, interleaved). With an odd number of 64-byte lines per row those rows
    fall in 16 different sets. The padding is never written (so ``zeros`` stays zero there);
    ``_give_matrix`` hands the matrix back.
    """
    line = max(64 // np.dtype(dtype).itemsize, 1)
    lines = -(-cols // line)
    padded = (lines + 1 - lines % 2) * line
    return scratch.take(tag, xp, (rows, padded), dtype, zeros=zeros)[:, :cols]


def _give_matrix(tag, matrix):
    """Give back a ``_matrix`` (or any view of it) to the scratch pool."""
    while matrix.base is not None:
        matrix = matrix.base
    scratch.give(tag, matrix)


def copy_into(out, x):
    """out[...] = x: an elementwise copy for ``backend_threads.split``."""
    out[...] = x


def _wide_padded(x, pad, tag):
    """x (N, C, H, W) zero-padded into (N, C, Hp + 1, Wp), a spare row for ``_column_chunks``.

    A scratch array of ``tag``, which fixes the pad: only the interior is ever written,
    so the border stays zero from one use to the next.
    """
    (ph, pw), (n, c, h, w) = pad, x.shape
    shape = (n, c, h + 2 * ph + 1, w + 2 * pw)
    xpad = scratch.take(tag, get_array_module(x), shape, x.dtype, zeros=True)
    backend_threads.split(copy_into, xpad[:, :, ph:ph + h, pw:pw + w], x)
    return xpad


def _narrow_columns(xpad, kernel, oh, ow):
    """Stride-1 im2col as (C·kh·kw, N·OH·OW) from ``_wide_padded``'s xpad: only output
    columns (runs of OW), a scratch matrix (tag ``COLUMNS``)."""
    xp = get_array_module(xpad)
    (n, c, _, _), (kh, kw) = xpad.shape, kernel
    s_n, s_c, s_h, s_w = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, shape=(c, kh, kw, n, oh, ow), strides=(s_c, s_h, s_w, s_n, s_h, s_w))
    col = _matrix(COLUMNS, xp, c * kh * kw, n * oh * ow, xpad.dtype)
    target = col.reshape(view.shape)

    def gather(lo, hi):  # images lo..hi: a split over the batch (backend_threads)
        target[:, :, :, lo:hi] = view[:, :, :, lo:hi]

    backend_threads.parallel_for(gather, n, col.nbytes)
    return col


# Scratch tags (see backend.Scratch): conv2d's im2col matrix, a GEMM result before its bias
# add, _widen's zero-padded gradient (whose tag adds the geometry of its zeros), the
# transposed convolution's taps (whose tag adds the zero margin in front of each row), and
# the im2col columns of one chunk of images.
COLUMNS, GEMM, WIDE = "conv columns", "conv gemm", "conv widened"
TAPS, CHUNK = "conv taps", "conv column chunk"


def _widen(g, rows, wp):
    """g (N, C, OH, OW) as (C, N·rows·Wp): each image in the top-left of a rows × Wp frame of
    zeros. With rows = OH it matches ``_column_chunks``; with the padded output's height it is
    ``_transposed_wide``'s input.

    A ``_matrix`` tagged with the frame's geometry: only the image's part of each frame is
    ever written, so the zeros stay zero from one use to the next.
    """
    n, c, oh, ow = g.shape
    wide = _matrix((WIDE, oh, ow, rows, wp), get_array_module(g), c, n * rows * wp, g.dtype,
                   zeros=True)
    backend_threads.split(copy_into, wide.reshape(c, n, rows, wp)[:, :, :oh, :ow],
                          g.transpose(1, 0, 2, 3))
    return wide


def _transposed_wide(x, W, size, pad):
    """conv_transpose2d with stride 1: GEMMs, then sums of kh·kw shifted views of them.

    Each image of x sits in the top-left corner of a frame of zeros the size of the padded
    output, Hp × Wp (``_widen``), so ``taps = Wᵀ x`` (O·kh·kw, Hp·Wp per image) holds, in
    row (o, u, v), the contribution that lands u·Wp + v further on in the same flat frames.
    Each row of ``taps`` starts after a zero margin of (kh - 1)·Wp + kw - 1, so every shift
    is a plain strided view, and the output is one sum over the (u, v) axes of one
    view: no fill, no kh·kw separate adds. A shift that runs off a frame's start reads the
    previous frame's last rows or a row's last kw - 1 columns, where x is zero, so its taps
    are zero too: chunks of images (``_image_chunks``) are independent, and each chunk's
    taps are summed while they are still in cache. On bench's CNN (second conv's input
    gradient) the sum took 0.17-0.27 ms against 0.42-0.61 for the earlier fold of kh·kw
    adds; the GEMM's frames are 16/14 longer.
    """
    xp = get_array_module(x)
    c, o, kh, kw = W.shape
    n = x.shape[0]
    (ph, pw), (oh, ow) = pad, size
    hp, wp = oh + 2 * ph, ow + 2 * pw
    frames = _widen(x, hp, wp)
    margin, frame = (kh - 1) * wp + kw - 1, hp * wp
    dtype = xp.result_type(W, frames)
    chunks = _image_chunks(n, o * kh * kw * frame * dtype.itemsize)
    taps = _matrix((TAPS, margin), xp, o * kh * kw, margin + chunks[0][1] * frame, dtype,
                   zeros=True)
    row, item = taps.strides[0], taps.itemsize
    planes = scratch.result("conv_transpose2d", xp, (o, n * frame), dtype)
    Wt = W.reshape(c, -1).T
    shifted = xp.lib.stride_tricks.as_strided(
        taps[:, margin:], shape=(o, kh, kw, chunks[0][1] * frame),
        strides=(kh * kw * row, kw * row - wp * item, row - item, item))
    for lo, hi in chunks:
        width = (hi - lo) * frame
        xp.matmul(Wt, frames[:, lo * frame:lo * frame + width],
                  out=taps[:, margin:margin + width])
        shifted[..., :width].sum(axis=(1, 2), out=planes[:, lo * frame:lo * frame + width])
    _give_matrix((WIDE, x.shape[2], x.shape[3], hp, wp), frames)
    _give_matrix((TAPS, margin), taps)
    y = planes.reshape(o, n, hp, wp).transpose(1, 0, 2, 3)  # stored channels-major
    return y[:, :, ph:ph + oh, pw:pw + ow]


# Bytes of one chunk's im2col columns or transposed-conv taps per BLAS thread: about a
# core's L2 cache. bench CNN's step, one thread, p10: 7.9-8.1 ms with 512 KiB or 1 MiB
# chunks, 8.1-8.3 with 256 KiB, 8.5-8.6 with 2 MiB, 8.9-9.3 unchunked. With two threads
# every chunk's GEMM hands work to the second one: at quiet moments (p10 of 40 interleaved
# steps) 7.6-8.0 ms in chunks against 8.0-8.3 whole; while other jobs held the second core,
# each hand-off waited for it (10.7-12.8 against 9.9), so the chunks grow with the threads.
CHUNK_BYTES = 1 << 19


def _image_chunks(n, per_image):
    """Ranges (lo, hi) covering n images of ``per_image`` bytes, as many as it takes to keep
    each within about ``CHUNK_BYTES`` per BLAS thread, about evenly sized.

    A stride-1 convolution gathers its im2col columns (or writes its transposed taps) one
    chunk at a time into one small scratch matrix that the GEMM (or the sum) reads while it
    is still in cache. Whole, bench CNN's second conv's 4.1 MB columns went out to memory
    between the gather and the GEMM: 1.5 ms for both in the step, against 1.1 in chunks.
    """
    pieces = -(-n * per_image // (CHUNK_BYTES * backend_threads.threads())) or 1
    k = max(1, -(-n // pieces))  # images a chunk, about even
    return [(lo, min(n, lo + k)) for lo in range(0, n, k)] or [(0, 0)]


def _column_chunks(x, kernel, pad, oh):
    """Stride-1 im2col, "wide", by chunks of images: yields (lo, hi, col), col the
    (C·kh·kw, (hi - lo)·OH·Wp) columns of images lo..hi in a scratch matrix that the next
    chunk overwrites.

    With stride 1, window (u, v) over a flattened padded plane is the run starting at
    u·Wp + v: output (i, j) reads flat index (i + u)·Wp + j + v. So each row of the matrix
    is one copy of contiguous runs of OH·Wp per image, covering Wp columns per output row;
    the last kw - 1 of them are not outputs ("wide" columns, sliced off the GEMM's result
    or met by zeros in a widened gradient, ``_widen``).
    """
    xp = get_array_module(x)
    tag = ("conv padded", tuple(pad))
    xpad = _wide_padded(x, pad, tag)
    (n, c, _, wp), (kh, kw) = xpad.shape, kernel
    s_n, s_c, s_h, s_w = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, shape=(c, kh, kw, n, oh * wp), strides=(s_c, s_h, s_w, s_n, s_w))
    rows, per_image = c * kh * kw, oh * wp
    chunks = _image_chunks(n, rows * per_image * xpad.itemsize)
    buffer = _matrix(CHUNK, xp, rows, chunks[0][1] * per_image, xpad.dtype)
    for lo, hi in chunks:
        col = buffer[:, :(hi - lo) * per_image]
        col.reshape(c, kh, kw, hi - lo, per_image)[...] = view[:, :, :, lo:hi]
        yield lo, hi, col
    _give_matrix(CHUNK, buffer)
    scratch.give(tag, xpad)


def _conv_columns(x, kernel, stride, pad, oh, ow):
    """conv2d's whole im2col matrix, (C·kh·kw, N·OH·OW): ``_narrow_columns`` for stride 1
    (a scratch array: ``_give_columns`` hands it back once it is read), else ``_columns``."""
    if tuple(stride) == (1, 1):
        tag = ("conv padded", tuple(pad))
        xpad = _wide_padded(x, pad, tag)
        col = _narrow_columns(xpad, kernel, oh, ow)
        scratch.give(tag, xpad)
        return col
    return _columns(x, kernel, stride, pad)[0]


def _give_columns(col, stride):
    """Hand ``_conv_columns``'s matrix back to the scratch pool (only stride 1 took it there;
    a strided im2col may be a view of its input)."""
    if tuple(stride) == (1, 1):
        _give_matrix(COLUMNS, col)


def _check_channels(x, W, axis):
    """Raised inside ``forward``: Function prefixes the op's name and the input shapes."""
    if W.ndim != 4:
        raise ValueError(f"W must be 4-D, got shape {W.shape}")
    if x.ndim == 4 and x.shape[1] != W.shape[axis]:
        raise ValueError(
            f"input has {x.shape[1]} channels but W {W.shape} expects {W.shape[axis]}"
        )


# OpenBLAS multiplies products of at most about 10^6 multiply-adds with its "small matrix"
# kernels, which do not pack the operands; above that, a thin result over a long inner
# dimension ran about 3x slower: bench CNN's first conv's weight gradient, 9 × 16 over
# K = 25088, took 0.30 ms whole and 0.09 in four pieces of K = 6272 (one thread or two).
SMALL_PRODUCT = 10 ** 6


def _thin_product(a, b):
    """a @ b, in pieces along the inner dimension that stay small products when the result
    is thin and the inner dimension long (pieces of at least 2048); else one product."""
    (m, k), n = a.shape, b.shape[1]
    pieces = -(-m * n * k // SMALL_PRODUCT)
    if pieces < 2 or k // pieces < 2048 or get_array_module(a) is not np:
        return a @ b
    width = -(-k // pieces)
    out = a[:, :width] @ b[:width]
    for lo in range(width, k, width):
        out += a[:, lo:lo + width] @ b[lo:lo + width]
    return out


class BiasGrad(ops.Sum):
    """gb[o] = Σ_{n,i,j} gy[n, o, i, j]: a convolution's bias gradient (a Sum over (0, 2, 3)).

    As matrix-vector products with ones when gy is one block (``backend.matrix_sums``, BLAS):
    bench CNN's two bias gradients took 0.13 ms with NumPy's sum over three axes.
    """

    def __init__(self):
        super().__init__(axis=(0, 2, 3))

    def forward(self, gy):
        n, c = gy.shape[:2]
        if not gy.size or get_array_module(gy) is not np:
            return super().forward(gy)
        if gy.flags.c_contiguous:  # (N, C·H·W): the images summed, then each channel's row
            return matrix_sums(matrix_sums(gy.reshape(n, -1), 0).reshape(c, -1), 1)
        if is_channels_major(gy) and gy.transpose(1, 0, 2, 3).flags.c_contiguous:
            return matrix_sums(gy.transpose(1, 0, 2, 3).reshape(c, -1), 1)
        return super().forward(gy)


class Conv2d(Function):
    """y[n, o, i, j] = Σ_{c,u,v} W[o, c, u, v] xpad[n, c, i·sh + u, j·sw + v] + b[o]

    x (N, C, H, W), W (O, C, kh, kw), b (O,) -> y (N, O, OH, OW).
    gx = conv_transpose2d(gy, W);  gW = Conv2dGradW(x, gy);  gb = Σ_{n,i,j} gy.
    """

    keeps_outputs = False

    def __init__(self, stride, pad):
        self.stride = stride
        self.pad = pad
        self.col = None

    def forward(self, x, W, b=None):
        _check_channels(x, W, 1)
        oh, ow = conv_geometry(x.shape, W.shape[2:], self.stride, self.pad)
        o = W.shape[0]
        xp = get_array_module(x)
        n = x.shape[0]
        # Few taps (bench CNN's first conv: 9 rows against 16 outputs): one matrix of output
        # columns, small, kept for Conv2dGradW; many taps (stride 1): wide columns by chunks.
        narrow = x.shape[1] * W.shape[2] * W.shape[3] <= o
        if tuple(self.stride) == (1, 1) and not narrow and n:
            # wide columns by chunks of images, each read by its GEMM while in cache;
            # Conv2dGradW gathers them again the same way
            width = x.shape[3] + 2 * self.pad[1]
            dtype = xp.result_type(W, x)
            gemm = (xp.empty((o, n * oh * width), dtype) if b is None
                    else _matrix(GEMM, xp, o, n * oh * width, dtype))
            for lo, hi, col in _column_chunks(x, W.shape[2:], self.pad, oh):
                xp.matmul(W.reshape(o, -1), col, out=gemm[:, lo * oh * width:hi * oh * width])
        else:  # the whole matrix of output columns: the GEMM writes the result itself and
            # the bias is added in place
            col = _conv_columns(x, W.shape[2:], self.stride, self.pad, oh, ow)
            self.col = col  # backward's gW reuses it instead of gathering the windows again
            y = scratch.result("conv2d", xp, (o, n, oh, ow), xp.result_type(W, col))
            xp.matmul(W.reshape(o, -1), col, out=y.reshape(o, -1))
            if b is not None:
                backend_threads.ufunc(xp.add, y, b.reshape(o, 1, 1, 1), out=y)
            return y.transpose(1, 0, 2, 3)  # (O, N, OH, OW) -> (N, O, OH, OW), a view
        y = gemm.reshape(o, n, oh, width)[..., :ow]
        if b is not None:  # the GEMM result is scratch: the bias add packs the wide columns
            y = backend_threads.ufunc(xp.add, y, b.reshape(o, 1, 1, 1), dtype=y.dtype,
                                      out=scratch.result("conv2d", xp, y.shape, y.dtype))
            _give_matrix(GEMM, gemm)
        return y.transpose(1, 0, 2, 3)  # (O, N, OH, OW) -> (N, O, OH, OW), a view

    def backward(self, gy):
        x, W = self.inputs[:2]
        col, self.col = self.col, None  # Conv2dGradW gives it back: a second backward regathers
        gx = gW = None
        if x.requires_grad:
            gx = ConvTranspose2d(self.stride, self.pad, x.shape[2:])(gy, W)
        if W.requires_grad:
            gW = Conv2dGradW(W.shape[2:], self.stride, self.pad, col)(x, gy)
        if len(self.inputs) == 2:
            return gx, gW
        return gx, gW, BiasGrad()(gy)

    def jvp(self, tx, tW, tb=None):
        """dy = conv2d(dx, W) + conv2d(x, dW) + db"""
        x, W = self.inputs[:2]
        return total(None if tx is None else Conv2d(self.stride, self.pad)(tx, W),
                     None if tW is None else Conv2d(self.stride, self.pad)(x, tW),
                     None if tb is None else ops.reshape(tb, (-1, 1, 1)))


class Conv2dGradW(Function):
    """gW[o, c, u, v] = Σ_{n,i,j} gy[n, o, i, j] xpad[n, c, i·sh + u, j·sw + v]

    Bilinear in x and gy: for ggW, gx = conv_transpose2d(gy, ggW), ggy = conv2d(x, ggW).
    """

    keeps_outputs = False

    def __init__(self, kernel, stride, pad, col=None):
        self.kernel = tuple(kernel)
        self.stride = stride
        self.pad = pad
        self.col = col

    def forward(self, x, gy):
        n, o, oh, ow = gy.shape
        xp = get_array_module(gy)
        col, self.col = self.col, None  # only the forward needs it
        taps = x.shape[1] * self.kernel[0] * self.kernel[1]
        stride_one = tuple(self.stride) == (1, 1)
        # col @ gy2ᵀ, transposed after: OpenBLAS runs this long-K product with the wide operand
        # untransposed, 0.87 ms against 1.27 ms for gy2 @ colᵀ (bench CNN's second conv, 1 core)
        if col is None and stride_one and taps > o and n:
            # wide columns by chunks of images, as Conv2d's forward gathered them, against gy
            # widened with zero columns to match; the chunks' products add up
            wp = x.shape[3] + 2 * self.pad[1]
            widened = _widen(gy, oh, wp)
            gW = None
            for lo, hi, col in _column_chunks(x, self.kernel, self.pad, oh):
                part = col @ widened[:, lo * oh * wp:hi * oh * wp].T
                gW = part if gW is None else xp.add(gW, part, out=gW)
            _give_matrix((WIDE, oh, ow, oh, wp), widened)
        else:
            if col is None:
                col = _conv_columns(x, self.kernel, self.stride, self.pad, oh, ow)
            gW = _thin_product(col, gy.transpose(1, 0, 2, 3).reshape(o, -1).T)
            _give_columns(col, self.stride)
        return gW.T.reshape((o, x.shape[1]) + self.kernel)

    def backward(self, ggW):
        x, gy = self.inputs
        gx = ggy = None
        if x.requires_grad:
            gx = ConvTranspose2d(self.stride, self.pad, x.shape[2:])(gy, ggW)
        if gy.requires_grad:
            ggy = Conv2d(self.stride, self.pad)(x, ggW)
        return gx, ggy

    def jvp(self, tx, tgy):
        """bilinear: dgW = Conv2dGradW(dx, gy) + Conv2dGradW(x, dgy)"""
        x, gy = self.inputs
        return total(
            None if tx is None else Conv2dGradW(self.kernel, self.stride, self.pad)(tx, gy),
            None if tgy is None else Conv2dGradW(self.kernel, self.stride, self.pad)(x, tgy))


class ConvTranspose2d(Function):
    """y[n, o, i·sh + u - ph, j·sw + v - pw] += Σ_c x[n, c, i, j] W[c, o, u, v];  y += b[o]

    The adjoint of conv2d. x (N, C, H, W), W (C, O, kh, kw), b (O,) -> y (N, O, OH, OW)
    with OH = (H - 1)·sh - 2·ph + kh unless ``outsize`` (conv2d's input size) is given.
    gx = conv2d(gy, W);  gW = Conv2dGradW(gy, x);  gb = Σ_{n,i,j} gy.
    """

    keeps_outputs = False

    name = "conv_transpose2d"

    def __init__(self, stride, pad, outsize=None):
        self.stride = stride
        self.pad = pad
        self.outsize = None if outsize is None else tuple(outsize)

    def forward(self, x, W, b=None):
        if x.ndim != 4:
            raise ValueError(f"input must be (N, C, H, W), got shape {x.shape}")
        _check_channels(x, W, 0)
        c, o, kh, kw = W.shape
        n, _, h, w = x.shape
        size = self.outsize or tuple(
            (s - 1) * st - 2 * p + k for s, st, p, k in zip((h, w), self.stride, self.pad, (kh, kw))
        )
        if min(size) < 1:
            raise ValueError(f"output size {size} is empty (kernel too small for the pad)")
        if conv_geometry((n, o) + size, (kh, kw), self.stride, self.pad) != (h, w):
            raise ValueError(f"output size {size} does not match the input size {(h, w)}")
        if self.stride == (1, 1):
            y = _transposed_wide(x, W, size, self.pad)
        else:
            col = W.reshape(c, -1).T @ x.transpose(1, 0, 2, 3).reshape(c, -1)
            col = col.reshape(o, kh, kw, n, h, w).transpose(3, 0, 1, 2, 4, 5)
            y = col2im_array(col, size, self.stride, self.pad, channels_major=True)
        if b is not None:
            y += b.reshape(1, o, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        gx = gW = None
        if x.requires_grad:
            gx = Conv2d(self.stride, self.pad)(gy, W)
        if W.requires_grad:
            gW = Conv2dGradW(W.shape[2:], self.stride, self.pad)(gy, x)
        if len(self.inputs) == 2:
            return gx, gW
        return gx, gW, BiasGrad()(gy)

    def jvp(self, tx, tW, tb=None):
        """dy = conv_transpose2d(dx, W) + conv_transpose2d(x, dW) + db"""
        x, W = self.inputs[:2]
        transposed = (self.stride, self.pad, self.outsize)
        return total(None if tx is None else ConvTranspose2d(*transposed)(tx, W),
                     None if tW is None else ConvTranspose2d(*transposed)(x, tW),
                     None if tb is None else ops.reshape(tb, (-1, 1, 1)))


def conv2d(x, W, b=None, stride=1, pad=0, *, padding=None):
    """2-D convolution (cross-correlation, as in PyTorch) of x (N, C, H, W) with W (O, C, kh, kw).

    ``stride`` and ``pad`` (PyTorch's ``padding``) are ints or pairs; zero padding.
    Returns (N, O, OH, OW) with OH = (H + 2·ph - kh) // sh + 1::

        y = conv2d(x, W, b, stride=1, pad=1)   # 3×3 kernel: same height and width
    """
    pad = either("conv2d", pad=pad, padding=padding, default=0)
    f = Conv2d(as_pair(stride, "conv2d: stride"), as_pair(pad, "conv2d: pad"))
    x = as_variable(x)
    return f(x, W) if b is None else f(x, W, b)


def conv_transpose2d(x, W, b=None, stride=1, pad=0, *, padding=None):
    """Transposed convolution (the adjoint of conv2d) of x (N, C, H, W) with W (C, O, kh, kw).

    Returns (N, O, OH, OW) with OH = (H - 1)·sh - 2·ph + kh, as torch's conv_transpose2d;
    ``pad`` is PyTorch's ``padding``.
    """
    pad = either("conv_transpose2d", pad=pad, padding=padding, default=0)
    f = ConvTranspose2d(as_pair(stride, "conv_transpose2d: stride"),
                        as_pair(pad, "conv_transpose2d: pad"))
    x = as_variable(x)
    return f(x, W) if b is None else f(x, W, b)
