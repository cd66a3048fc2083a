"""2-D convolution layers on (N, C, H, W) images."""

import math

import numpy as np

import chainrule.functions as F
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
                f"stride={self.stride}, pad={self.pad}")
        return text if self.b is not None else text + ", bias=False"


class Conv2d(_ConvNd):
    """y = W ⋆ x + b: each output channel a learned filter slid over every input channel.

    x (N, in, H, W) -> y (N, out, H', W'), H' = (H + 2 pad - kh) // stride + 1;
    W (out, in, kh, kw), b (out,) as in PyTorch.
    """

    def weight_shape(self):
        return (self.out_channels, self.in_channels) + self.kernel_size

    def forward(self, x):
        return F.conv2d(x, self.W, self.b, self.stride, self.pad)


class ConvTranspose2d(_ConvNd):
    """The gradient of Conv2d as a layer: upsamples each pixel into a kernel-sized patch.

    x (N, in, H, W) -> y (N, out, H', W'), H' = (H - 1) stride - 2 pad + kh;
    W (in, out, kh, kw), b (out,) as in PyTorch.
    """

    def weight_shape(self):
        return (self.in_channels, self.out_channels) + self.kernel_size

    def forward(self, x):
        return F.conv_transpose2d(x, self.W, self.b, self.stride, self.pad)
