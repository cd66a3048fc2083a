"""Linear (fully connected); Flatten, the layer that usually feeds it, its inverse Unflatten,
and Identity."""

import math

import numpy as np

import chainrule.functions as F
from chainrule.nn import init
from chainrule.nn.module import Module, positive_int


class Linear(Module):
    """y = x W + b: every output a weighted sum of every input.

    x (..., in_features) -> y (..., out_features); W (in_features, out_features), b
    (out_features,). W and b start U(-1/√in, 1/√in), PyTorch's default (its weight is W.T).

    >>> Linear(784, 100)
    Linear(in_features=784, out_features=100)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int("Linear", "in_features", in_features)
        self.out_features = positive_int("Linear", "out_features", out_features)
        bound = 1.0 / math.sqrt(self.in_features)
        shape = (self.in_features, self.out_features)
        self.W = init.uniform_parameter(shape, bound, dtype)
        self.b = None
        if bias:
            self.b = init.uniform_parameter(shape[1], bound, dtype)

    def forward(self, x):
        return F.linear(x, self.W, self.b)

    def extra_repr(self):
        bias = "" if self.b is not None else ", bias=False"
        return f"in_features={self.in_features}, out_features={self.out_features}{bias}"


class Flatten(Module):
    """Axes ``start_dim`` .. ``end_dim`` merged into one: (N, C, H, W) -> (N, C·H·W) by default.

    The defaults (1, -1) keep the batch axis, as PyTorch's do.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        if (self.start_dim, self.end_dim) == (1, -1):
            return F.flatten(x)
        start, end = (_axis("Flatten", d, x.ndim) for d in (self.start_dim, self.end_dim))
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim "
                             f"{self.end_dim} for input of shape {tuple(x.shape)}")
        return F.reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Axis ``dim`` split into ``unflattened_size``: Unflatten(1, (C, H, W)) undoes Flatten.

    x (..., n, ...) -> y (..., *unflattened_size, ...), where the sizes multiply to n (one
    of them may be -1).
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        axis = _axis("Unflatten", self.dim, x.ndim)
        shape = x.shape[:axis] + self.unflattened_size + x.shape[axis + 1:]
        try:
            return F.reshape(x, shape)
        except ValueError:
            raise ValueError(f"Unflatten: axis {self.dim} of input {tuple(x.shape)} cannot be "
                             f"split into {self.unflattened_size}") from None

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """y = x: a placeholder that keeps a model's structure (a removed head, a skipped norm).

    Any constructor arguments are accepted and ignored, as in PyTorch.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


def _axis(owner, axis, ndim):
    """``axis`` counted from the front, or one ValueError naming the layer."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"{owner}: dim {axis} is out of range for an input of {ndim} axes")
    return axis % ndim
