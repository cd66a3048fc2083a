"""Reductions: sum, mean, max, min, argmax, argmin, logsumexp.

``axis`` is None (every axis), an int or a tuple of ints, as in NumPy; PyTorch's ``dim`` and
``keepdim`` are accepted beside ``axis`` and ``keepdims``. max and min split the gradient
evenly among tied extremes, like ``torch.amax``; with PyTorch's keywords they return
PyTorch's ``(values, indices)`` instead (see ``chainrule.core.reductions``). All but
logsumexp are the functions behind Variable's methods: ``F.mean(x)`` is ``x.mean()``.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable, ops, reductions
from chainrule.core.elementwise import Exp
from chainrule.core.ops import kept_shape
from chainrule.core.reductions import axis_and_keepdims


class LogSumExp(Function):
    """y = log Σ eˣ over ``axis`` (shifted by max x, so it never overflows);
    gx = gy · e^(x - y), the softmax of x"""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        xp = get_array_module(x)
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # a slice of all -inf gives -inf, not nan
        y = xp.log(xp.exp(x - m).sum(axis=self.axis, keepdims=True)) + m
        return y if self.keepdims else y.squeeze(axis=self.axis)

    def backward(self, gy):
        x = self.inputs[0]
        kept = kept_shape(x.shape, self.axis)
        y = ops.reshape(self.outputs[0](), kept)
        return ops.reshape(gy, kept) * Exp()(x - y)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """y = Σ x over ``axis`` (None: every axis)."""
    return reductions.sum(as_variable(x), axis, keepdims, dim, keepdim)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """y = Σ x / n over ``axis``, n the number of elements summed."""
    return reductions.mean(as_variable(x), axis, keepdims, dim, keepdim)


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest element over ``axis``; ties share the gradient evenly (like torch.amax).

    With PyTorch's ``dim=`` (or ``keepdim=``) and one axis: ``(values, indices)``, as
    ``torch.max(x, dim)`` returns.
    """
    return reductions.extreme("max", as_variable(x), axis, keepdims, dim, keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Smallest element over ``axis``; ties share the gradient evenly (like torch.amin).

    With PyTorch's ``dim=`` (or ``keepdim=``) and one axis: ``(values, indices)``, as
    ``torch.min(x, dim)`` returns.
    """
    return reductions.extreme("min", as_variable(x), axis, keepdims, dim, keepdim)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the largest element over ``axis`` (None: of the flattened array); no gradient."""
    return reductions.arg("max", as_variable(x), axis, keepdims, dim, keepdim)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the smallest element over ``axis`` (None: of the flattened array); no gradient."""
    return reductions.arg("min", as_variable(x), axis, keepdims, dim, keepdim)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """y = log Σ eˣ over ``axis``, stable for large |x|."""
    x = as_variable(x)
    return LogSumExp(*axis_and_keepdims("logsumexp", x, axis, keepdims, dim, keepdim))(x)
