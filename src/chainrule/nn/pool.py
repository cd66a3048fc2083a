"""Pooling layers: 2-D on (N, C, H, W) images; 1-D on (N, C, L), run as 2-D with H = 1."""

import numpy as np

import chainrule.functions as F
from chainrule.backend import get_array_module
from chainrule.core import as_variable
from chainrule.core.aliases import either
from chainrule.nn.module import Module


class _Pool2d(Module):
    """The shared settings; ``pad`` is PyTorch's ``padding``: ``MaxPool2d(3, 2, padding=1)``."""

    def __init__(self, kernel_size, stride=None, pad=0, *, padding=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.pad = either(type(self).__name__, pad=pad, padding=padding, default=0)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, pad={self.pad}"


class MaxPool2d(_Pool2d):
    """y = the largest value of each kernel-sized window (stride defaults to kernel_size).

    x (N, C, H, W) -> y (N, C, H', W'), H' = (H + 2 pad - kh) // stride + 1.
    """

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.pad)


class AvgPool2d(_Pool2d):
    """y = the mean of each kernel-sized window (stride defaults to kernel_size).

    x (N, C, H, W) -> y (N, C, H', W'), H' = (H + 2 pad - kh) // stride + 1.
    """

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.pad)


class AdaptiveAvgPool2d(Module):
    """y = the mean of each of output_size bins, whatever the input's size.

    x (N, C, H, W) -> y (N, C, oh, ow). Bin i along H spans [⌊i H / oh⌋, ⌈(i + 1) H / oh⌉),
    as in PyTorch, so bins may overlap when oh does not divide H. The mean over a
    rectangle is the mean over its rows of the means over its columns, so y = A_h x A_wᵀ
    with A_h (oh, H) holding 1/len(bin) over each bin: two matmuls, differentiable again.
    ``output_size`` is an int or a pair; None in it keeps that axis's size.
    """

    def __init__(self, output_size):
        super().__init__()
        sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
        if len(sizes) != 2 or not all(s is None or (isinstance(s, int) and s > 0) for s in sizes):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be a positive int or a "
                             f"pair of them (or None), got {output_size!r}")
        self.output_size = sizes

    def forward(self, x):
        x = as_variable(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"AdaptiveAvgPool2d: expected input (N, C, H, W) or (C, H, W), "
                             f"got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        oh, ow = (n if s is None else s for s, n in zip(self.output_size, (h, w)))
        if (oh, ow) == (1, 1):
            return F.mean(x, axis=(-2, -1), keepdims=True)
        xp = get_array_module(x.data)
        rows = xp.asarray(_bins(h, oh), dtype=x.dtype)
        cols = xp.asarray(_bins(w, ow).T, dtype=x.dtype)
        return F.matmul(F.matmul(rows, x), cols)

    def extra_repr(self):
        return f"output_size={self.output_size}"


def _bins(size, bins):
    """The (bins, size) matrix averaging each of PyTorch's adaptive bins."""
    matrix = np.zeros((bins, size))
    for i in range(bins):
        start, end = (i * size) // bins, -((-(i + 1) * size) // bins)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class _Pool1d(_Pool2d):
    """A 1-D window over (N, C, L) or (C, L), pooled as the 2-D window (1, k) over H = 1."""

    def forward(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected input (N, C, L) or (C, L), got "
                             f"{tuple(x.shape)}")
        stride = self.kernel_size if self.stride is None else self.stride
        batched = x.ndim == 3
        x = F.reshape(x, (x.shape[0] if batched else 1, x.shape[-2], 1, x.shape[-1]))
        y = self.pool(x, (1, _one(self.kernel_size)), (1, _one(stride)), (0, _one(self.pad)))
        return F.reshape(y, (y.shape[:2] if batched else y.shape[1:2]) + y.shape[3:])


class MaxPool1d(_Pool1d):
    """y = the largest value of each window of kernel_size steps (stride defaults to it).

    x (N, C, L) -> y (N, C, L'), L' = (L + 2 pad - k) // stride + 1.
    """

    pool = staticmethod(F.max_pool2d)


class AvgPool1d(_Pool1d):
    """y = the mean of each window of kernel_size steps, zero padding counted (PyTorch's
    default).  x (N, C, L) -> y (N, C, L'), L' = (L + 2 pad - k) // stride + 1."""

    pool = staticmethod(F.avg_pool2d)


class AdaptiveAvgPool1d(Module):
    """y = the mean of each of output_size bins along L (AdaptiveAvgPool2d's bins): y = x A_lᵀ.

    x (N, C, L) or (C, L) -> y (..., output_size).
    """

    def __init__(self, output_size):
        super().__init__()
        size = _one(output_size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"AdaptiveAvgPool1d: output_size must be a positive int, got "
                             f"{output_size!r}")
        self.output_size = size

    def forward(self, x):
        x = as_variable(x)
        if x.ndim not in (2, 3):
            raise ValueError(f"AdaptiveAvgPool1d: expected input (N, C, L) or (C, L), got "
                             f"{tuple(x.shape)}")
        bins = _bins(x.shape[-1], self.output_size).T
        return F.matmul(x, get_array_module(x.data).asarray(bins, dtype=x.dtype))

    def extra_repr(self):
        return f"output_size={self.output_size}"


def _one(value):
    """An int from an int or a 1-tuple, as PyTorch's 1-D layers take their sizes."""
    return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
