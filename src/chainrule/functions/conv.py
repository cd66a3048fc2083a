"""Convolutions: conv2d and conv_transpose2d, as GEMMs on im2col columns (conv_columns.py
makes them; the differentiable im2col and col2im, DeZero's, live in ``im2col.py``).

Backward follows Chainer and DeZero: conv2d's gx is conv_transpose2d(gy, W),
its gW a ``Conv2dGradW`` whose own backward is conv2d / conv_transpose2d
again, so gradients of every order are convolutions.
"""

import numpy as np

from chainrule import backend_threads
from chainrule.backend import get_array_module, matrix_sums, scratch
from chainrule.core import Function, as_variable, ops
from chainrule.core.aliases import either
from chainrule.functions.conv_columns import (
    GEMM,
    WIDE,
    as_pair,
    check_channels,
    col2im_array,
    column_chunks,
    conv_columns,
    conv_geometry,
    give_columns,
    is_channels_major,
    scratch_matrix,
    thin_product,
    transposed_wide,
    widen,
)
from chainrule.functions.tangent import total


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
        check_channels(x, W, 1)
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
                    else scratch_matrix(GEMM, xp, o, n * oh * width, dtype))
            for lo, hi, col in column_chunks(x, W.shape[2:], self.pad, oh):
                xp.matmul(W.reshape(o, -1), col, out=gemm[:, lo * oh * width:hi * oh * width])
        else:  # the whole matrix of output columns: the GEMM writes the result itself and
            # the bias is added in place
            col = conv_columns(x, W.shape[2:], self.stride, self.pad, oh, ow)
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
            scratch.give(GEMM, gemm)
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
            widened = widen(gy, oh, wp)
            gW = None
            for lo, hi, col in column_chunks(x, self.kernel, self.pad, oh):
                part = col @ widened[:, lo * oh * wp:hi * oh * wp].T
                gW = part if gW is None else xp.add(gW, part, out=gW)
            scratch.give((WIDE, oh, ow, oh, wp), widened)
        else:
            if col is None:
                col = conv_columns(x, self.kernel, self.stride, self.pad, oh, ow)
            gW = thin_product(col, gy.transpose(1, 0, 2, 3).reshape(o, -1).T)
            give_columns(col, self.stride)
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
        check_channels(x, W, 0)
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
            y = transposed_wide(x, W, size, self.pad)
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
