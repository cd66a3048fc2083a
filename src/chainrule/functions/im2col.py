"""im2col and col2im as the DeZero book calls them, differentiable, on conv_columns.py's window
machinery (``window_view``, ``col2im_array``).

im2col gathers every kernel window of a zero-padded image; col2im adds windows back
into an image, overlaps summed: each is the other's adjoint, so each one's gradient
is the other. ``to_matrix`` picks the layout: (N·OH·OW, C·KH·KW), one window per row,
ready for ``col @ W`` (the book's), or the array (N, C, KH, KW, OH, OW).
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable
from chainrule.core.aliases import either
from chainrule.functions.conv_columns import as_pair, col2im_array, conv_geometry, window_view


class Im2col(Function):
    """col[n, c, u, v, i, j] = xpad[n, c, i·sh + u, j·sw + v]  (as a matrix: rows (n, i, j),
    columns (c, u, v));  gx = col2im(gcol)"""

    keeps_outputs = False

    def __init__(self, kernel, stride, pad, to_matrix):
        self.kernel = kernel
        self.stride = stride
        self.pad = pad
        self.to_matrix = to_matrix

    def forward(self, x):
        conv_geometry(x.shape, self.kernel, self.stride, self.pad)
        view = window_view(x, self.kernel, self.stride, self.pad)
        if not self.to_matrix:
            return get_array_module(x).ascontiguousarray(view)
        n, c, kh, kw, oh, ow = view.shape
        return view.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw)  # one copy

    def backward(self, gcol):
        shape = self.inputs[0].shape
        return Col2im(shape, self.kernel, self.stride, self.pad, self.to_matrix)(gcol)

    def jvp(self, tx):
        return Im2col(self.kernel, self.stride, self.pad, self.to_matrix)(tx)


class Col2im(Function):
    """x[n, c, i·sh + u - ph, j·sw + v - pw] += col[n, c, u, v, i, j];  gcol = im2col(gx)"""

    keeps_outputs = False

    def __init__(self, shape, kernel, stride, pad, to_matrix):
        self.shape = tuple(shape)
        self.kernel = kernel
        self.stride = stride
        self.pad = pad
        self.to_matrix = to_matrix

    def forward(self, col):
        n, c = self.shape[:2]
        oh, ow = conv_geometry(self.shape, self.kernel, self.stride, self.pad)
        kh, kw = self.kernel
        if self.to_matrix:
            expected = (n * oh * ow, c * kh * kw)
            if col.shape != expected:
                raise ValueError(f"col must be (N·OH·OW, C·KH·KW) = {expected} for an image "
                                 f"of shape {self.shape}, got {col.shape}")
            col = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # a view
        elif col.shape != (n, c, kh, kw, oh, ow):
            raise ValueError(f"col must be (N, C, KH, KW, OH, OW) = {(n, c, kh, kw, oh, ow)} "
                             f"for an image of shape {self.shape}, got {col.shape}")
        return col2im_array(col, self.shape[2:], self.stride, self.pad)

    def backward(self, gx):
        return Im2col(self.kernel, self.stride, self.pad, self.to_matrix)(gx)

    def jvp(self, tcol):
        return Col2im(self.shape, self.kernel, self.stride, self.pad, self.to_matrix)(tcol)


def _geometry(op, kernel_size, stride, pad, padding):
    pad = either(op, pad=pad, padding=padding, default=0)
    return (as_pair(kernel_size, f"{op}: kernel_size"), as_pair(stride, f"{op}: stride"),
            as_pair(pad, f"{op}: pad"))


def im2col(x, kernel_size, stride=1, pad=0, to_matrix=True, *, padding=None):
    """Every kernel window of x (N, C, H, W), zero-padded by ``pad``: DeZero's im2col.

    Returns (N·OH·OW, C·KH·KW) with ``to_matrix`` (the book's layout: a convolution is
    then ``im2col(x, ...) @ W.reshape(O, -1).T``), else (N, C, KH, KW, OH, OW).
    ``kernel_size``, ``stride`` and ``pad`` are ints or pairs. The "from scratch" book's
    ``im2col(x, filter_h, filter_w, stride, pad)`` is ``im2col(x, (filter_h, filter_w),
    stride, pad)`` here; ``padding`` is PyTorch's name for ``pad``.
    """
    kernel, stride, pad = _geometry("im2col", kernel_size, stride, pad, padding)
    return Im2col(kernel, stride, pad, to_matrix)(as_variable(x))


def col2im(x, input_shape, kernel_size, stride=1, pad=0, to_matrix=True, *, padding=None):
    """The adjoint of im2col (DeZero's col2im): windows ``x`` added back into an image of
    ``input_shape`` (N, C, H, W), overlaps summed, the padding cut off."""
    kernel, stride, pad = _geometry("col2im", kernel_size, stride, pad, padding)
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(f"col2im: input_shape must be (N, C, H, W), got {input_shape}")
    return Col2im(shape, kernel, stride, pad, to_matrix)(as_variable(x))
