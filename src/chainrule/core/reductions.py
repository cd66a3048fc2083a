"""Operations along an axis behind Variable's methods: mean, max/min (and their indices),
argmax/argmin, softmax and log_softmax.

``axis`` is None (every axis), an int or a tuple of ints, as in NumPy; PyTorch's ``dim``
and ``keepdim`` are accepted beside ``axis`` and ``keepdims``. ``chainrule.functions``
calls these same functions after lifting arrays to Variables.

max and min answer both communities. NumPy's spelling (``x.max(axis=1)``, ``x.max(1)``)
gives the values, and tied extremes share the gradient evenly, like ``torch.amax``.
PyTorch's keywords with one axis (``x.max(dim=1)``, ``x.max(1, keepdim=True)``) give
PyTorch's pair ``(values, indices)``, and, as in PyTorch, the gradient goes to the element
at the index alone (the first of the tied ones).
"""

from typing import NamedTuple

from chainrule.backend import get_array_module
from chainrule.core import indexing, ops
from chainrule.core.aliases import either
from chainrule.core.elementwise import Exp
from chainrule.core.function import Function, batchable
from chainrule.core.shape_ops import kept_shape


def check_axis(x, axis, op):
    """``axis`` as NumPy takes it (an int or a tuple), checked against ``x``'s shape."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"{op}: axis {a} is out of range for shape {x.shape}")
    return axes if isinstance(axis, (tuple, list)) else axis


def axis_and_keepdims(op, x, axis, keepdims, dim, keepdim):
    """``axis`` (checked) and ``keepdims``, each given under NumPy's name or PyTorch's."""
    if dim is not None or keepdim is not None:  # PyTorch's spelling: resolve the pairs
        axis = either(op, axis=axis, dim=dim)
        keepdims = either(op, keepdims=keepdims, keepdim=keepdim, default=False)
    return check_axis(x, axis, op), keepdims


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
        # the share is a constant: gx is linear in gy, flat in x between ties
        return ops.reshape(gy, kept_shape(self.inputs[0].shape, self.axis)) * self.share()

    def jvp(self, t):
        return ops.sum(t * self.share(), self.axis, self.keepdims)

    def share(self):
        """1/k at each of the k tied extremes of a slice, else 0 (an array, x's shape)."""
        x = self.inputs[0]._data
        kept = kept_shape(x.shape, self.axis)
        hit = (x == self.outputs[0]()._data.reshape(kept)).astype(x.dtype)
        return hit / hit.sum(axis=self.axis, keepdims=True)


def _row_max(x, axis):
    """max x along ``axis`` (kept), the shift that keeps exp from overflowing; 0 when empty."""
    if x.shape[axis] == 0:  # nothing to shift, and NumPy's max refuses an empty axis
        return x.sum(axis=axis, keepdims=True)
    return x.max(axis=axis, keepdims=True)


class Softmax(Function):
    """yᵢ = e^(xᵢ - max x) / Σⱼ e^(xⱼ - max x) along ``axis``;  gx = y (gy - Σ gy y)"""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        e = get_array_module(x).exp(x - _row_max(x, self.axis))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, gy):
        y = self.outputs[0]()
        gx = gy * y
        return gx - y * gx.sum(axis=self.axis, keepdims=True)

    def jvp(self, t):
        y = self.outputs[0]()
        ty = t * y  # ẏ = y ẋ - y Σ y ẋ
        return ty - y * ty.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``;  gx = gy - eʸ Σ gy"""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        shifted = x - _row_max(x, self.axis)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        y = self.outputs[0]()
        return gy - Exp()(y) * gy.sum(axis=self.axis, keepdims=True)

    def jvp(self, t):
        y = self.outputs[0]()  # ẏ = ẋ - Σ softmax(x) ẋ
        return t - (Exp()(y) * t).sum(axis=self.axis, keepdims=True)


class ValuesIndices(NamedTuple):
    """What ``x.max(dim=d)`` returns, as ``torch.max`` does: ``values, indices = x.max(dim=1)``."""

    values: object
    indices: object


def sum(x, axis=None, keepdims=False, dim=None, keepdim=None):
    """y = Σ x over ``axis`` (None: every axis)."""
    axis, keepdims = axis_and_keepdims("sum", x, axis, keepdims, dim, keepdim)
    return ops.sum(x, axis, keepdims)


def mean(x, axis=None, keepdims=False, dim=None, keepdim=None):
    """y = Σ x / n over ``axis``, n the number of elements summed."""
    axis, keepdims = axis_and_keepdims("mean", x, axis, keepdims, dim, keepdim)
    y = ops.sum(x, axis, keepdims)
    return y / (x._data.size // y._data.size) if y._data.size else y


@batchable
def extreme(op, x, axis=None, keepdims=False, dim=None, keepdim=None):
    """``op`` ("max" or "min") over ``axis``: the values, or PyTorch's (values, indices).

    The pair comes back when PyTorch's keywords (``dim=``, ``keepdim=``) name one axis;
    NumPy's spelling gives the values alone, ties sharing the gradient (module docstring).
    """
    torch_style = dim is not None or keepdim is not None
    axis, keepdims = axis_and_keepdims(op, x, axis, keepdims, dim, keepdim)
    if not torch_style or axis is None:
        return Extreme(op, axis, keepdims)(x)
    if isinstance(axis, tuple):
        raise TypeError(f"{op}: dim must be one int, got {axis!r} "
                        "(axis= takes a tuple and gives the values alone)")
    indices = _arg(op, x, axis, keepdims=True)
    grid = list(get_array_module(indices).indices(indices.shape, sparse=True))
    grid[axis] = indices
    values = indexing.get_item(x, tuple(grid))  # the gradient reaches the indexed element alone
    if not keepdims:
        indices = indices.squeeze(axis)
        values = ops.reshape(values, indices.shape)
    return ValuesIndices(values, x._derived(indices))


@batchable
def arg(op, x, axis=None, keepdims=False, dim=None, keepdim=None):
    """Index of the ``op`` ("max" or "min") over ``axis`` (None: of the flattened array).

    A Variable of integers that needs no gradient, like PyTorch's ``argmax``.
    """
    axis, keepdims = axis_and_keepdims(f"arg{op}", x, axis, keepdims, dim, keepdim)
    if isinstance(axis, tuple):
        raise TypeError(f"arg{op}: axis must be one int or None, got {axis!r}")
    return x._derived(_arg(op, x, axis, keepdims))


def _arg(op, x, axis, keepdims):
    xp = get_array_module(x._data)
    found = getattr(xp, "arg" + op)(x._data, axis=axis, keepdims=keepdims)
    return xp.asarray(found)


def softmax(x, axis=-1, dim=None):
    """Softmax along ``axis`` (shape kept); each slice sums to 1."""
    axis = check_axis(x, either("softmax", axis=axis, dim=dim, default=-1), "softmax")
    return Softmax(axis)(x)


def log_softmax(x, axis=-1, dim=None):
    """log(softmax(x)) along ``axis``, computed stably as x - logsumexp(x)."""
    axis = check_axis(x, either("log_softmax", axis=axis, dim=dim, default=-1), "log_softmax")
    return LogSoftmax(axis)(x)
