"""Reductions: sum, mean, max, min, logsumexp, var, std, and the running sum cumsum.

``axis`` is None (every axis), an int or a tuple of ints, as in NumPy. max and
min split the gradient evenly among tied extremes, like ``torch.amax``.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable, ops
from chainrule.core.ops import kept_shape
from chainrule.functions.aliases import either
from chainrule.functions.math import exp
from chainrule.functions.shape import where


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


class Cumsum(Function):
    """yᵢ = Σ_{j ≤ i} xⱼ along ``axis``;  gxᵢ = Σ_{j ≥ i} gyⱼ = Σ gy - cumsum(gy) + gy"""

    keeps_outputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return get_array_module(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        return ops.sum(gy, self.axis, True) - Cumsum(self.axis)(gy) + gy


class RootOfSquares(Function):
    """y = √v, for v a sum of squares;  gv = gy / (2y), and 0 where y = 0 (torch's std and
    norm gradients at a constant slice: sqrt's own would be inf there)"""

    def forward(self, v):
        return get_array_module(v).sqrt(v)

    def backward(self, gy):
        y = self.outputs[0]()
        zero = y.data == 0
        return where(zero, 0.0, gy / (where(zero, 1.0, y) * 2))


def cumsum(x, axis=None, *, dim=None):
    """Running sums along ``axis`` (``dim``); None sums over the flattened array, as NumPy."""
    x = as_variable(x)
    axis = either("cumsum", "axis", axis, "dim", dim)
    if axis is None:
        return Cumsum(0)(ops.reshape(x, (x.size,)))
    _axis(x, axis, "cumsum")
    return Cumsum(axis)(x)


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
    return _variance("var", x, either("var", "axis", axis, "dim", dim),
                     _correction("var", correction, ddof, unbiased),
                     either("var", "keepdims", keepdims, "keepdim", keepdim, default=False))


def std(x, axis=None, *, correction=None, keepdims=False, ddof=None, dim=None, keepdim=None,
        unbiased=None):
    """Standard deviation √var over ``axis``, with ``var``'s arguments (correction 1 by
    default, as torch.std). Its gradient is 0 where the slice is constant, as torch's."""
    v = _variance("std", x, either("std", "axis", axis, "dim", dim),
                  _correction("std", correction, ddof, unbiased),
                  either("std", "keepdims", keepdims, "keepdim", keepdim, default=False))
    return RootOfSquares()(v)


def _variance(op, x, axis, correction, keepdims):
    x = as_variable(x)
    axis = _axis(x, axis, op)
    d = x - mean(x, axis, keepdims=True)
    squares = ops.sum(d * d, axis, keepdims)
    dof = (x.size // squares.size if squares.size else 0) - correction
    if dof > 0:
        return squares / dof
    with get_array_module(x.data).errstate(divide="ignore", invalid="ignore"):
        return squares / get_array_module(x.data).zeros((), dtype=x.dtype)  # inf or nan

