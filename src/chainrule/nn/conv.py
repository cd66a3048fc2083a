"""Convolution layers: Conv2d and ConvTranspose2d on (N, C, H, W) images, Conv1d on (N, C, L)."""

import math

import numpy as np

import chainrule.functions as F
from chainrule.backend import get_array_module
from chainrule.core.aliases import either
from chainrule.nn import init
from chainrule.nn.module import Module, positive_int


def pair(owner, name, value):
    """``(a, b)`` from an int or a pair of positive ints, else one ValueError."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2:
        raise ValueError(f"{owner}: {name} must be an int or a pair, got {value!r}")
    return tuple(positive_int(owner, name, v) for v in values)


class _ConvNd(Module):
    """The shared parts: sizes checked, W and b drawn U(-1/√fan_in, 1/√fan_in) as in PyTorch.

    ``pad`` is PyTorch's ``padding``: ``Conv2d(1, 16, 3, padding=1)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0, bias=True,
                 dtype=np.float32, *, padding=None):
        super().__init__()
        name = type(self).__name__
        pad = either(name, pad=pad, padding=padding, default=0)
        self.in_channels = positive_int(name, "in_channels", in_channels)
        self.out_channels = positive_int(name, "out_channels", out_channels)
        self.kernel_size = pair(name, "kernel_size", kernel_size)
        self.stride = stride
        self.pad = pad
        shape = self.weight_shape()
        bound = 1.0 / math.sqrt(init.fans(shape)[0])
        self.W = init.uniform_parameter(shape, bound, dtype)
        self.b = None
        if bias:
            self.b = init.uniform_parameter(self.out_channels, bound, dtype)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, pad={self.pad!r}")
        return text if self.b is not None else text + ", bias=False"


class Conv2d(_ConvNd):
    """y = W ⋆ x + b: each output channel a learned filter slid over every input channel.

    x (N, in, H, W) -> y (N, out, H', W'), H' = (H + 2 pad - dilation (kh - 1) - 1) // stride
    + 1; W (out, in, kh, kw), b (out,) as in PyTorch. ``pad`` (or ``padding``) may be
    ``"valid"`` or ``"same"`` (stride 1; an odd total goes one more to the right and
    bottom, as in PyTorch); a dilated kernel runs as the kernel with zeros between its taps.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0, bias=True,
                 dtype=np.float32, *, padding=None, dilation=1, groups=1,
                 padding_mode="zeros"):
        if groups != 1 or padding_mode != "zeros":
            raise ValueError(f"Conv2d: only groups=1 and padding_mode='zeros' are supported, "
                             f"got groups={groups!r}, padding_mode={padding_mode!r}")
        pad = either("Conv2d", pad=pad, padding=padding, default=0)
        text = pad if isinstance(pad, str) else None
        super().__init__(in_channels, out_channels, kernel_size, stride, 0 if text else pad,
                         bias, dtype)
        self.dilation = pair("Conv2d", "dilation", dilation)
        if text is not None:
            spans = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            self.pad = text
            self.padding_sides = [_padding_1d(text, stride, span, "Conv2d") for span in spans]

    def weight_shape(self):
        return (self.out_channels, self.in_channels) + self.kernel_size

    def forward(self, x):
        W = self.W
        for axis, d in ((2, self.dilation[0]), (3, self.dilation[1])):
            W = _dilated(W, d, axis)
        pad = self.pad
        if isinstance(pad, str):
            (top, bottom), (left, right) = self.padding_sides
            x = _zeros_after(_zeros_after(x, 2, bottom - top), 3, right - left)
            pad = (top, left)
        return F.conv2d(x, W, self.b, self.stride, pad)

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.dilation == (1, 1) else text + f", dilation={self.dilation}"


class ConvTranspose2d(_ConvNd):
    """The gradient of Conv2d as a layer: upsamples each pixel into a kernel-sized patch.

    x (N, in, H, W) -> y (N, out, H', W'), H' = (H - 1) stride - 2 pad + kh;
    W (in, out, kh, kw), b (out,) as in PyTorch.
    """

    def weight_shape(self):
        return (self.in_channels, self.out_channels) + self.kernel_size

    def forward(self, x):
        return F.conv_transpose2d(x, self.W, self.b, self.stride, self.pad)


class Conv1d(Module):
    """y[n, o, i] = Σ_{c,u} W[o, c, u] xpad[n, c, i·stride + u·dilation] + b[o]

    x (N, in, L) or (in, L) -> y (N, out, L'),
    L' = (L + 2 pad - dilation (k - 1) - 1) // stride + 1;  W (out, in, k), b (out,) as in
    PyTorch. ``pad`` (or ``padding``) may be ``"valid"`` (0) or ``"same"`` (stride 1; an odd
    total goes one more to the right, as in PyTorch). It runs as conv2d on (N, in, 1, L);
    a dilated kernel is the kernel with dilation - 1 zeros between its taps.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=np.float32, padding=None):
        super().__init__()
        if groups != 1 or padding_mode != "zeros":
            raise ValueError(f"Conv1d: only groups=1 and padding_mode='zeros' are supported, "
                             f"got groups={groups!r}, padding_mode={padding_mode!r}")
        self.in_channels = positive_int("Conv1d", "in_channels", in_channels)
        self.out_channels = positive_int("Conv1d", "out_channels", out_channels)
        self.kernel_size = _single("kernel_size", kernel_size)
        self.stride = _single("stride", stride)
        self.dilation = _single("dilation", dilation)
        self.pad = _padding_1d(either("Conv1d", pad=pad, padding=padding, default=0),
                               self.stride, self.dilation * (self.kernel_size - 1), "Conv1d")
        shape = (self.out_channels, self.in_channels, self.kernel_size)
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size)
        self.W = init.uniform_parameter(shape, bound, dtype)
        self.b = init.uniform_parameter(self.out_channels, bound, dtype) if bias else None

    def forward(self, x):
        batched = x.ndim == 3
        if x.ndim not in (2, 3) or x.shape[-2] != self.in_channels:
            raise ValueError(f"Conv1d: expected input (N, {self.in_channels}, L) or "
                             f"({self.in_channels}, L), got {tuple(x.shape)}")
        n = x.shape[0] if batched else 1
        x = F.reshape(x, (n, self.in_channels, 1, x.shape[-1]))
        left, right = self.pad
        x = _zeros_after(x, 3, right - left)  # "same" with an odd total: one more on the right
        W = _dilated(self.W, self.dilation, 2)
        W = F.reshape(W, W.shape[:2] + (1, W.shape[2]))
        y = F.conv2d(x, W, self.b, (1, self.stride), (0, left))
        return F.reshape(y, (y.shape[:2] if batched else y.shape[1:2]) + (y.shape[3],))

    def extra_repr(self):
        pad = self.pad[0] if self.pad[0] == self.pad[1] else self.pad
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, pad={pad}")
        if self.dilation != 1:
            text += f", dilation={self.dilation}"
        return text if self.b is not None else text + ", bias=False"


def _single(name, value):
    """A positive int from an int or a 1-tuple, as PyTorch's 1-D layers take them."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return positive_int("Conv1d", name, value)


def _padding_1d(pad, stride, span, owner):
    """(before, after) zeros along one axis for ``pad``: an int, a 1-tuple, "valid" or "same"
    (a kernel spanning ``span`` + 1 inputs keeps the length)."""
    if pad == "valid":
        return 0, 0
    if pad == "same":
        if stride not in (1, (1,), (1, 1)):
            raise ValueError(f"{owner}: padding='same' needs stride 1")
        return span // 2, span - span // 2
    if isinstance(pad, (tuple, list)) and len(pad) == 1:
        pad = pad[0]
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"{owner}: pad must be a non-negative int, 'valid' or 'same', "
                         f"got {pad!r}")
    return int(pad), int(pad)


def _dilated(W, dilation, axis):
    """W with dilation - 1 zeros between the taps along ``axis``: k taps span d (k - 1) + 1."""
    if dilation == 1:
        return W
    shape, k = W.shape, W.shape[axis]
    gaps = get_array_module(W.data).zeros(shape[:axis + 1] + (dilation - 1,) + shape[axis + 1:],
                                          dtype=W.dtype)
    spread = F.concat([F.expand_dims(W, axis + 1), gaps], axis=axis + 1)  # (.., k, d, ..)
    spread = F.reshape(spread, shape[:axis] + (k * dilation,) + shape[axis + 1:])
    return spread[(slice(None),) * axis + (slice(0, dilation * (k - 1) + 1),)]


def _zeros_after(x, axis, count):
    """x with ``count`` zeros appended along ``axis`` (x itself for none)."""
    if count == 0:
        return x
    zeros = get_array_module(x.data).zeros(x.shape[:axis] + (count,) + x.shape[axis + 1:],
                                           dtype=x.dtype)
    return F.concat([x, zeros], axis=axis)
