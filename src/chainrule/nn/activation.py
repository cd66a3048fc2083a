"""Activations as modules, for use inside Sequential: each forward is one call into F."""

import chainrule.functions as F
from chainrule.core.aliases import either
from chainrule.nn.module import Module


class ReLU(Module):
    """y = max(x, 0), elementwise."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """y = tanh x, elementwise."""

    def forward(self, x):
        return F.tanh(x)


class LeakyReLU(Module):
    """y = x for x > 0, slope · x otherwise, elementwise (``slope``: PyTorch's negative_slope)."""

    def __init__(self, slope=0.01, *, negative_slope=None):
        super().__init__()
        self.slope = either("LeakyReLU", slope=slope, negative_slope=negative_slope, default=0.01)

    def forward(self, x):
        return F.leaky_relu(x, self.slope)

    def extra_repr(self):
        return f"slope={self.slope}"


class GELU(Module):
    """y = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³))): PyTorch's gelu(approximate='tanh')."""

    def forward(self, x):
        return F.gelu(x)


class Softmax(Module):
    """y_i = exp(x_i) / Σ_j exp(x_j) along ``axis`` (PyTorch's ``dim``: ``Softmax(dim=1)``)."""

    def __init__(self, axis=-1, *, dim=None):
        super().__init__()
        self.axis = either("Softmax", axis=axis, dim=dim, default=-1)

    def forward(self, x):
        return F.softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"
