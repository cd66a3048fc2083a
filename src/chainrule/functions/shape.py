"""Shape operations: reshape, transpose, broadcasting, indexing, joining, where.

reshape, transpose, broadcast_to, sum_to and get_item are the core operations
Variable's own methods use; flatten, squeeze and expand_dims/unsqueeze share their
shape arithmetic with Variable's methods (``core.shapes``); the rest are built here.
Every gradient is itself made of these operations, so it differentiates again.
PyTorch's names are accepted beside NumPy's: ``dim`` for ``axis``, ``cat`` for ``concat``.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, Variable, as_variable, ops, shapes
from chainrule.core.aliases import either


def reshape(x, shape):
    """y = x.reshape(shape) (one entry may be -1; an int means a 1-D shape)."""
    return ops.reshape(as_variable(x), (shape,) if isinstance(shape, int) else tuple(shape))


def transpose(x, axes=None, dim1=None):
    """y = x.transpose(axes), None reversing the axes (NumPy, DeZero); or, given two ints,
    ``transpose(x, 0, 1)``, those two axes swapped (PyTorch's ``transpose(x, dim0, dim1)``)."""
    return shapes.transpose(as_variable(x), axes, dim1)


def broadcast_to(x, shape):
    """y = x broadcast to ``shape``; the gradient sums back."""
    x = as_variable(x)
    shape = tuple(shape)
    try:
        get_array_module(x.data).broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: shape {x.shape} cannot broadcast to {shape}") from None
    return ops.broadcast_to(x, shape)


def sum_to(x, shape):
    """y = x summed down to ``shape`` (the shape it was broadcast from)."""
    return ops.sum_to(as_variable(x), tuple(shape))


def get_item(x, index):
    """y = x[index]; repeated fancy indices add up in the gradient."""
    if isinstance(index, Variable):
        index = index.data
    return ops.get_item(as_variable(x), index)


class Concat(Function):
    """y = concatenate(xs, axis);  gxᵢ = gy sliced back to xᵢ's span along ``axis``"""

    keeps_outputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        axis = self.axis % gy.ndim
        lead = (slice(None),) * axis
        gxs = []
        start = 0
        for x in self.inputs:
            stop = start + x.shape[axis]
            gxs.append(gy[lead + (slice(start, stop),)] if x.requires_grad else None)
            start = stop
        return tuple(gxs)


class Stack(Function):
    """y = stack(xs, axis), a new axis;  gxᵢ = gy[..., i, ...] along ``axis``"""

    keeps_outputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(xs[0]).stack(xs, axis=self.axis)

    def backward(self, gy):
        lead = (slice(None),) * (self.axis % gy.ndim)
        return tuple(gy[lead + (i,)] if x.requires_grad else None
                     for i, x in enumerate(self.inputs))


def _variables(xs, op):
    if isinstance(xs, Variable) or not isinstance(xs, (list, tuple)):
        raise TypeError(f"{op}: expects a list or tuple of arrays, got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{op}: needs at least one array")
    return [as_variable(x) for x in xs]


def concat(xs, axis=0, *, dim=None):
    """Join arrays along an existing ``axis`` (``dim``); the other axes must agree.

    ``cat`` is the same function, under PyTorch's name.
    """
    axis = either("concat", axis=axis, dim=dim, default=0)
    xs = _variables(xs, "concat")
    ndim = xs[0].ndim
    if ndim == 0 or not -ndim <= axis < ndim:
        raise ValueError(f"concat: axis {axis} is out of range for shape {xs[0].shape}")
    for x in xs[1:]:
        if x.ndim != ndim or any(m != n for i, (m, n) in enumerate(zip(x.shape, xs[0].shape))
                                 if i != axis % ndim):
            raise ValueError(f"concat: shapes {xs[0].shape} and {x.shape} differ "
                             f"off axis {axis}")
    return Concat(axis)(*xs)


cat = concat


def stack(xs, axis=0, *, dim=None):
    """Join arrays of one shape along a new ``axis`` (``dim``)."""
    axis = either("stack", axis=axis, dim=dim, default=0)
    xs = _variables(xs, "stack")
    for x in xs[1:]:
        if x.shape != xs[0].shape:
            raise ValueError(f"stack: shapes {xs[0].shape} and {x.shape} differ")
    if not -xs[0].ndim - 1 <= axis <= xs[0].ndim:
        raise ValueError(f"stack: axis {axis} is out of range for shape {xs[0].shape}")
    return Stack(axis)(*xs)


def where(condition, x0, x1):
    """Pick x0 where ``condition`` is true, else x1 (all three broadcast together).

    ``condition`` is a boolean array or Variable and gets no gradient.
    """
    if isinstance(condition, Variable):
        condition = condition.data
    condition = get_array_module(condition).asarray(condition, dtype=bool)
    if not isinstance(x0, Variable) and not isinstance(x1, Variable):
        x0 = as_variable(x0)
    return ops.where(condition, x0, x1)


def flatten(x, start_dim=1, end_dim=-1):
    """Join axes ``start_dim`` to ``end_dim`` into one: by default (N, ...) -> (N, -1).

    The default keeps the batch axis, as DeZero's flatten and ``nn.Flatten`` do;
    ``torch.flatten`` starts at 0, and so does ``x.flatten()``.
    """
    x = as_variable(x)
    if x.ndim == 0:
        raise ValueError("flatten: needs at least one axis, got shape ()")
    if x.ndim == 1 and (start_dim, end_dim) == (1, -1):
        return ops.reshape(x, (x.shape[0], 1))  # DeZero's flatten: (N,) -> (N, 1)
    return shapes.flatten(x, start_dim, end_dim)


def expand_dims(x, axis=None, *, dim=None):
    """Insert an axis of length 1 at ``axis`` (PyTorch's ``unsqueeze(x, dim)``)."""
    axis = either("expand_dims", axis=axis, dim=dim)
    if axis is None:
        raise TypeError("expand_dims: missing the axis (axis= or dim=)")
    return shapes.unsqueeze(as_variable(x), axis, "expand_dims")


def unsqueeze(x, dim):
    """Insert an axis of length 1 at ``dim``, as ``torch.unsqueeze``; the same as expand_dims."""
    return shapes.unsqueeze(as_variable(x), dim)


def squeeze(x, axis=None, *, dim=None):
    """Remove axes of length 1: ``axis`` (``dim``; an int or tuple) or, when None, all of them."""
    return shapes.squeeze(as_variable(x), either("squeeze", axis=axis, dim=dim))
