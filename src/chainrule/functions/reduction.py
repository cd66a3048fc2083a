"""Reductions: sum, mean, max, min, logsumexp.

``axis`` is None (every axis), an int or a tuple of ints, as in NumPy. max and
min split the gradient evenly among tied extremes, like ``torch.amax``.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable, ops
from chainrule.core.ops import kept_shape
from chainrule.functions.math import exp


def _axis(x, axis, op):
    """``axis`` as NumPy takes it (an int or a tuple), checked against ``x``'s shape."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"{op}: axis {a} is out of range for shape {x.shape}")
    return axes if isinstance(axis, (tuple, list)) else axis


class Extreme(Function):
    """y = max x (or min x) over ``axis``;  gx = gy / k at each of the k tied extremes, else 0
    (the gradient is split evenly among ties, like torch.amax / torch.amin)"""

    def __init__(self, reduce, axis, keepdims):
        self.reduce = reduce  # "max" or "min"
        self.axis = axis
        self.keepdims = keepdims

    @property
    def name(self):
        return self.reduce

    def forward(self, x):
        return getattr(x, self.reduce)(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0].data
        kept = kept_shape(x.shape, self.axis)
        hit = (x == self.outputs[0]().data.reshape(kept)).astype(x.dtype)
        share = hit / hit.sum(axis=self.axis, keepdims=True)
        # the share is a constant: gx is linear in gy, flat in x between ties
        return ops.reshape(gy, kept) * share


class LogSumExp(Function):
    """y = log Σ eˣ over ``axis`` (shifted by max x, so it never overflows);
    gx = gy · e^(x - y), the softmax of x"""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        xp = get_array_module(x)
        if x.size == 0:  # log of an empty sum: -inf, as torch.logsumexp
            return x.sum(axis=self.axis, keepdims=self.keepdims) - xp.inf
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # a slice of all -inf gives -inf, not nan
        y = xp.log(xp.exp(x - m).sum(axis=self.axis, keepdims=True)) + m
        return y if self.keepdims else y.squeeze(axis=self.axis)

    def backward(self, gy):
        x = self.inputs[0]
        kept = kept_shape(x.shape, self.axis)
        y = ops.reshape(self.outputs[0](), kept)
        return ops.reshape(gy, kept) * exp(x - y)


def sum(x, axis=None, keepdims=False):
    """y = Σ x over ``axis`` (None: every axis)."""
    x = as_variable(x)
    return ops.sum(x, _axis(x, axis, "sum"), keepdims)


def mean(x, axis=None, keepdims=False):
    """y = Σ x / n over ``axis``, n the number of elements summed."""
    x = as_variable(x)
    y = ops.sum(x, _axis(x, axis, "mean"), keepdims)
    return y / (x.size // y.size) if y.size else y


def max(x, axis=None, keepdims=False):
    """Largest element over ``axis``; ties share the gradient evenly (like torch.amax)."""
    x = as_variable(x)
    return Extreme("max", _axis(x, axis, "max"), keepdims)(x)


def min(x, axis=None, keepdims=False):
    """Smallest element over ``axis``; ties share the gradient evenly (like torch.amin)."""
    x = as_variable(x)
    return Extreme("min", _axis(x, axis, "min"), keepdims)(x)


def logsumexp(x, axis=None, keepdims=False):
    """y = log Σ eˣ over ``axis``, stable for large |x|."""
    x = as_variable(x)
    return LogSumExp(_axis(x, axis, "logsumexp"), keepdims)(x)
