"""The operations that move or fold elements without arithmetic on them: reshape,
transpose, sum, sum_to (undoing a broadcast) and broadcast_to.

Each is the adjoint of another one here (a reshape of a reshape, a sum of a broadcast), so
their backward rules close among themselves and every gradient differentiates again.
``core.ops`` builds on them and offers them under its own name (``ops.reshape``).
"""

from chainrule.backend import get_array_module
from chainrule.core.function import Function


class Reshape(Function):
    """y = x.reshape(shape);  gx = gy.reshape(x.shape)"""

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)

    def jvp(self, t):
        return reshape(t, self.shape)


class Transpose(Function):
    """y = x.transpose(axes);  gx = gy.transpose(inverse of axes)"""

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        inverse = sorted(range(len(self.axes)), key=lambda i: self.axes[i] % len(self.axes))
        return transpose(gy, tuple(inverse))

    def jvp(self, t):
        return transpose(t, self.axes)


class Sum(Function):
    """y = Σ x over axis;  gx = gy broadcast back to x's shape"""

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        shape = self.inputs[0].shape
        return broadcast_to(reshape(gy, kept_shape(shape, self.axis)), shape)

    def jvp(self, t):
        return sum(t, self.axis, self.keepdims)


class SumTo(Function):
    """y = x summed down to ``shape`` (undoes broadcasting);  gx = gy broadcast back"""

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return sum_array_to(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)

    def jvp(self, t):
        return sum_to(t, self.shape)


class BroadcastTo(Function):
    """y = x broadcast to ``shape``;  gx = gy summed back to x's shape"""

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)

    def jvp(self, t):
        return broadcast_to(t, self.shape)


def kept_shape(shape, axis):
    """The shape of a reduction over ``axis`` of an array of ``shape`` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def sum_array_to(x, shape):
    """Sum array ``x`` down to ``shape``, the shape it was broadcast from."""
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, x.shape[lead:])):
        raise ValueError(f"cannot sum shape {x.shape} down to {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
    )
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape) if lead else y


def swap_last_axes(x):
    """x with its last two axes exchanged: a stack of matrices, each transposed."""
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, tuple(axes))


def reshape(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    return Reshape(tuple(shape))(x)


def transpose(x, axes=None):
    return Transpose(axes)(x)


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


def sum_to(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    return SumTo(tuple(shape))(x)


def broadcast_to(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    return BroadcastTo(tuple(shape))(x)
