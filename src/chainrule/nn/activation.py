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


class SiLU(Module):
    """y = x σ(x) (swish), elementwise."""

    def forward(self, x):
        return F.silu(x)


class ELU(Module):
    """y = x for x > 0, alpha (eˣ - 1) otherwise, elementwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold (it is x there)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSoftmax(Module):
    """y_i = x_i - log Σ_j exp(x_j) along ``axis`` (PyTorch's ``dim``), computed stably."""

    def __init__(self, axis=-1, *, dim=None):
        super().__init__()
        self.axis = either("LogSoftmax", axis=axis, dim=dim, default=-1)

    def forward(self, x):
        return F.log_softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class Hardtanh(Module):
    """y = x clipped to [min_val, max_val], elementwise."""

    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6), elementwise."""

    def __init__(self):
        super().__init__(0.0, 6.0)

    def extra_repr(self):
        return ""
