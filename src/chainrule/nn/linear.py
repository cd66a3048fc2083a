"""Linear (fully connected) and Flatten, the layer that usually feeds it."""

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
    """y = x with axes ``start_dim`` to ``end_dim`` joined; by default x (N, ...) -> (N, prod(...)).

    PyTorch's signature and defaults: the batch axis is kept.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
