"""Reductions: sum, mean, max, min, argmax, argmin, logsumexp, var, std, and the running
sum cumsum.

``axis`` is None (every axis), an int or a tuple of ints, as in NumPy; PyTorch's ``dim`` and
``keepdim`` are accepted beside ``axis`` and ``keepdims``. max and min split the gradient
evenly among tied extremes, like ``torch.amax``; with PyTorch's keywords they return
PyTorch's ``(values, indices)`` instead (see ``chainrule.core.reductions``). All but
logsumexp are the functions behind Variable's methods: ``F.mean(x)`` is ``x.mean()``.
"""

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable, ops, reductions
from chainrule.core.aliases import either
from chainrule.core.elementwise import Exp
from chainrule.core.reductions import axis_and_keepdims, check_axis
from chainrule.core.shape_ops import kept_shape
from chainrule.functions.shape import where


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
        return ops.reshape(gy, kept) * Exp()(x - y)

    def jvp(self, tx):
        """dy = Σ softmax(x) dx over ``axis``"""
        x = self.inputs[0]
        y = ops.reshape(self.outputs[0](), kept_shape(x.shape, self.axis))
        return ops.sum(tx * Exp()(x - y), self.axis, self.keepdims)


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


class Cumsum(Function):
    """yᵢ = Σ_{j ≤ i} xⱼ along ``axis``;  gxᵢ = Σ_{j ≥ i} gyⱼ = Σ gy - cumsum(gy) + gy"""

    keeps_outputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return get_array_module(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        return ops.sum(gy, self.axis, True) - Cumsum(self.axis)(gy) + gy

    def jvp(self, tx):
        return Cumsum(self.axis)(tx)


class RootOfSquares(Function):
    """y = √v, for v a sum of squares;  gv = gy / (2y), and 0 where y = 0 (torch's std and
    norm gradients at a constant slice: sqrt's own would be inf there)"""

    def forward(self, v):
        return get_array_module(v).sqrt(v)

    def backward(self, gy):
        y = self.outputs[0]()
        zero = y.data == 0
        return where(zero, 0.0, gy / (where(zero, 1.0, y) * 2))

    def jvp(self, tv):
        y = self.outputs[0]()
        zero = y.data == 0
        return where(zero, 0.0, tv / (where(zero, 1.0, y) * 2))


def cumsum(x, axis=None, *, dim=None):
    """Running sums along ``axis`` (``dim``); None sums over the flattened array, as NumPy."""
    x = as_variable(x)
    axis = either("cumsum", axis=axis, dim=dim)
    if axis is None:
        return Cumsum(0)(ops.reshape(x, (int(x.size),)))
    if not isinstance(axis, int):
        raise TypeError(f"cumsum: axis must be an int, got {axis!r}")
    return Cumsum(check_axis(x, axis, "cumsum"))(x)


def _correction(op, correction, ddof, unbiased):
    """torch's ``correction`` (default 1), NumPy's ``ddof`` or torch's old ``unbiased`` flag."""
    given = [(n, v) for n, v in (("correction", correction), ("ddof", ddof),
                                  ("unbiased", unbiased)) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: pass one of correction, ddof and unbiased, got "
                        + " and ".join(n for n, _ in given))
    if not given:
        return 1
    name, value = given[0]
    return int(value) if name == "unbiased" else value


def var(x, axis=None, *, correction=None, keepdims=False, ddof=None, dim=None, keepdim=None,
        unbiased=None):
    """Variance Σ (x - mean)² / (n - correction) over ``axis`` (``dim``; None: every axis).

    The default correction is 1 (the unbiased estimate), as torch.var; NumPy's np.var
    divides by n: pass ``ddof=0`` (or ``correction=0``) for that. n ≤ correction gives inf
    or nan, as torch.
    """
    x = as_variable(x)
    axis, keepdims = axis_and_keepdims("var", x, axis, keepdims, dim, keepdim)
    return _variance(x, axis, _correction("var", correction, ddof, unbiased), keepdims)


def std(x, axis=None, *, correction=None, keepdims=False, ddof=None, dim=None, keepdim=None,
        unbiased=None):
    """Standard deviation √var over ``axis``, with ``var``'s arguments (correction 1 by
    default, as torch.std). Its gradient is 0 where the slice is constant, as torch's."""
    x = as_variable(x)
    axis, keepdims = axis_and_keepdims("std", x, axis, keepdims, dim, keepdim)
    v = _variance(x, axis, _correction("std", correction, ddof, unbiased), keepdims)
    return RootOfSquares()(v)


def _variance(x, axis, correction, keepdims):
    d = x - reductions.mean(x, axis, True, None, None)
    squares = ops.sum(d * d, axis, keepdims)
    n, kept = x.data.size, squares.data.size
    dof = (n // kept if kept else 0) - correction
    if dof > 0:
        return squares / dof
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy's warnings; CuPy has none
        return squares / get_array_module(x.data).zeros((), dtype=x.dtype)  # inf or nan
