"""How a convolution's input becomes GEMM operands: geometry, windows, im2col columns.

im2col is one strided view of the padded input: ``view[n, c, u, v, i, j] =
xpad[n, c, i·sh + u, j·sw + v]`` (no loop over pixels), copied into the matrix
the GEMM wants, (C·kh·kw, N·OH·OW), so ``y = W (O, C·kh·kw) @ col`` is ONE matrix
product whose (O, N, OH, OW) result is returned as a transposed view (N, O, OH, OW).
With stride 1 the columns are "wide" (N·OH·Wp, see ``column_chunks``): one copy of
long contiguous runs, gathered and multiplied a chunk of images at a time; conv_transpose2d
sums kh·kw shifted views of its GEMM (``transposed_wide``).
col2im adds kh·kw strided slices back (a loop over kernel offsets, not pixels).

The matrices are scratch (``backend.scratch``): conv.py's Functions take them and give them
back, so a training step reuses them instead of faulting in fresh pages.
"""

import operator

import numpy as np

from chainrule import backend_threads
from chainrule.backend import get_array_module, scratch


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


def scratch_matrix(tag, xp, rows, cols, dtype, zeros=False):
    """A (rows, cols) scratch matrix for a GEMM, each row padded to an odd number of cache lines.

    A row of 4 KiB multiples (bench CNN's 7168 wide columns: 7 × 4 KiB) puts the 16 rows a
    GEMM kernel touches together in the same L1 cache set; OpenBLAS then ran the second conv's
    products 1.1-1.5x slower (its transposed conv's (144, 32) @ (32, 7168): 1.33 against
    0.86 ms, one thread, interleaved). With an odd number of 64-byte lines per row those rows
    fall in 16 different sets. The padding is never written (so ``zeros`` stays zero there);
    ``scratch.give`` takes the matrix (a view) back.
    """
    line = max(64 // np.dtype(dtype).itemsize, 1)
    lines = -(-cols // line)
    padded = (lines + 1 - lines % 2) * line
    return scratch.take(tag, xp, (rows, padded), dtype, zeros=zeros)[:, :cols]


def copy_into(out, x):
    """out[...] = x: an elementwise copy for ``backend_threads.split``."""
    out[...] = x


def _wide_padded(x, pad, tag):
    """x (N, C, H, W) zero-padded into (N, C, Hp + 1, Wp), a spare row for ``column_chunks``.

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
    col = scratch_matrix(COLUMNS, xp, c * kh * kw, n * oh * ow, xpad.dtype)
    target = col.reshape(view.shape)

    def gather(lo, hi):  # images lo..hi: a split over the batch (backend_threads)
        target[:, :, :, lo:hi] = view[:, :, :, lo:hi]

    backend_threads.parallel_for(gather, n, col.nbytes)
    return col


# Scratch tags (see backend.Scratch): conv2d's im2col matrix, a GEMM result before its bias
# add, widen's zero-padded gradient (whose tag adds the geometry of its zeros), the
# transposed convolution's taps (whose tag adds the zero margin in front of each row), and
# the im2col columns of one chunk of images.
COLUMNS, GEMM, WIDE = "conv columns", "conv gemm", "conv widened"
TAPS, CHUNK = "conv taps", "conv column chunk"


def widen(g, rows, wp):
    """g (N, C, OH, OW) as (C, N·rows·Wp): each image in the top-left of a rows × Wp frame of
    zeros. With rows = OH it matches ``column_chunks``; with the padded output's height it is
    ``transposed_wide``'s input.

    A ``scratch_matrix`` tagged with the frame's geometry: only the image's part of each frame is
    ever written, so the zeros stay zero from one use to the next.
    """
    n, c, oh, ow = g.shape
    wide = scratch_matrix((WIDE, oh, ow, rows, wp), get_array_module(g), c, n * rows * wp, g.dtype,
                   zeros=True)
    backend_threads.split(copy_into, wide.reshape(c, n, rows, wp)[:, :, :oh, :ow],
                          g.transpose(1, 0, 2, 3))
    return wide


def transposed_wide(x, W, size, pad):
    """conv_transpose2d with stride 1: GEMMs, then sums of kh·kw shifted views of them.

    Each image of x sits in the top-left corner of a frame of zeros the size of the padded
    output, Hp × Wp (``widen``), so ``taps = Wᵀ x`` (O·kh·kw, Hp·Wp per image) holds, in
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
    frames = widen(x, hp, wp)
    margin, frame = (kh - 1) * wp + kw - 1, hp * wp
    dtype = xp.result_type(W, frames)
    chunks = _image_chunks(n, o * kh * kw * frame * dtype.itemsize)
    taps = scratch_matrix((TAPS, margin), xp, o * kh * kw, margin + chunks[0][1] * frame, dtype,
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
    scratch.give((WIDE, x.shape[2], x.shape[3], hp, wp), frames)
    scratch.give((TAPS, margin), taps)
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


def column_chunks(x, kernel, pad, oh):
    """Stride-1 im2col, "wide", by chunks of images: yields (lo, hi, col), col the
    (C·kh·kw, (hi - lo)·OH·Wp) columns of images lo..hi in a scratch matrix that the next
    chunk overwrites.

    With stride 1, window (u, v) over a flattened padded plane is the run starting at
    u·Wp + v: output (i, j) reads flat index (i + u)·Wp + j + v. So each row of the matrix
    is one copy of contiguous runs of OH·Wp per image, covering Wp columns per output row;
    the last kw - 1 of them are not outputs ("wide" columns, sliced off the GEMM's result
    or met by zeros in a widened gradient, ``widen``).
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
    buffer = scratch_matrix(CHUNK, xp, rows, chunks[0][1] * per_image, xpad.dtype)
    for lo, hi in chunks:
        col = buffer[:, :(hi - lo) * per_image]
        col.reshape(c, kh, kw, hi - lo, per_image)[...] = view[:, :, :, lo:hi]
        yield lo, hi, col
    scratch.give(CHUNK, buffer)
    scratch.give(tag, xpad)


def conv_columns(x, kernel, stride, pad, oh, ow):
    """conv2d's whole im2col matrix, (C·kh·kw, N·OH·OW): ``_narrow_columns`` for stride 1
    (a scratch array: ``give_columns`` hands it back once it is read), else ``_columns``."""
    if tuple(stride) == (1, 1):
        tag = ("conv padded", tuple(pad))
        xpad = _wide_padded(x, pad, tag)
        col = _narrow_columns(xpad, kernel, oh, ow)
        scratch.give(tag, xpad)
        return col
    return _columns(x, kernel, stride, pad)[0]


def give_columns(col, stride):
    """Hand ``conv_columns``'s matrix back to the scratch pool (only stride 1 took it there;
    a strided im2col may be a view of its input)."""
    if tuple(stride) == (1, 1):
        scratch.give(COLUMNS, col)


def check_channels(x, W, axis):
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


def thin_product(a, b):
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
