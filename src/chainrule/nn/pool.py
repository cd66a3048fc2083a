"""2-D pooling layers on (N, C, H, W) images."""

import chainrule.functions as F
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
