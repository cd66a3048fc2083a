"""Shape operations: reshape, transpose, broadcasting, indexing, joining, splitting, padding,
where.

reshape, transpose, broadcast_to, sum_to and get_item are the core operations
Variable's own methods use; flatten, squeeze and expand_dims/unsqueeze share their
shape arithmetic with Variable's methods (``core.shapes``); the rest are built here.
Every gradient is itself made of these operations, so it differentiates again.
PyTorch's names are accepted beside NumPy's: ``dim`` for ``axis``, ``cat`` for ``concat``.
"""

import itertools
import math

from chainrule.backend import get_array_module
from chainrule.core import Function, Variable, as_variable, indexing, ops, shapes
from chainrule.core.aliases import either
from chainrule.core.function import batchable


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
    return indexing.get_item(as_variable(x), index)


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

    def jvp(self, *txs):
        return Concat(self.axis)(*filled(self.inputs, txs))


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

    def jvp(self, *txs):
        return Stack(self.axis)(*filled(self.inputs, txs))


def _variables(xs, op):
    if isinstance(xs, Variable) or not isinstance(xs, (list, tuple)):
        raise TypeError(f"{op}: expects a list or tuple of arrays, got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{op}: needs at least one array")
    return [as_variable(x) for x in xs]


def filled(xs, txs):
    """The tangents ``txs`` of ``xs``, zeros standing in for an absent (None) one."""
    return [x.constant(get_array_module(x.data).zeros(x.shape, x.dtype)) if t is None else t
            for x, t in zip(xs, txs)]


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


@batchable
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


class Split(Function):
    """ys = x cut at ``indices`` along ``axis``;  gx = concat(gys) (zeros for an unused piece)"""

    keeps_outputs = False

    def __init__(self, indices, axis):
        self.indices = indices
        self.axis = axis

    def forward(self, x):
        return tuple(get_array_module(x).split(x, self.indices, axis=self.axis))

    def backward(self, *gys):
        if any(gy is None for gy in gys):  # a piece already freed: it had no gradient
            x = self.inputs[0]
            xp = get_array_module(x.data)
            bounds = [0, *self.indices, x.shape[self.axis]]
            gys = [x.constant(xp.zeros(x.shape[:self.axis] + (stop - start,)
                                       + x.shape[self.axis + 1:], dtype=x.dtype))
                   if gy is None else gy for gy, start, stop in zip(gys, bounds, bounds[1:])]
        return Concat(self.axis)(*gys)

    def jvp(self, tx):
        return Split(self.indices, self.axis)(tx)  # one tangent per piece, as forward's


def _dim(op, x, dim, axis):
    dim = either(op, dim=dim, axis=axis, default=0)
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for shape {x.shape}")
    return dim % x.ndim


def _split(x, sizes, dim):
    indices = list(itertools.accumulate(sizes))[:-1]
    ys = Split(indices, dim)(x)
    return ys if isinstance(ys, tuple) else (ys,)


def split(x, split_size_or_sections, dim=0, *, axis=None):
    """Pieces of x along ``dim``, as torch.split: an int is each piece's length (the last may
    be shorter), a list gives every length. (NumPy's np.split reads an int as a count.)"""
    x = as_variable(x)
    dim = _dim("split", x, dim, axis)
    n = x.shape[dim]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise ValueError(f"split: sections {sizes} do not add up to {n}, the length of "
                             f"dim {dim} of shape {x.shape}")
    else:
        size = int(split_size_or_sections)
        if size < 1 and n:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - start) for start in range(0, n, size)] if n else [0]
    return _split(x, sizes, dim)


def chunk(x, chunks, dim=0, *, axis=None):
    """``chunks`` pieces of x along ``dim`` of length ceil(n / chunks), as torch.chunk (so there
    may be fewer pieces when n is not a multiple)."""
    x = as_variable(x)
    dim = _dim("chunk", x, dim, axis)
    if chunks < 1:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[dim]
    return split(x, max(-(-n // chunks), 1), dim)


class ConstantPad(Function):
    """y = x inside a border of ``value``, ``widths`` (before, after) per axis;
    gx = gy cut back to x's span"""

    keeps_outputs = False

    def __init__(self, widths, value):
        self.widths = widths
        self.value = value

    def span(self, shape):
        return tuple(slice(b, b + n) for (b, _), n in zip(self.widths, shape))

    def forward(self, x):
        shape = tuple(n + b + a for n, (b, a) in zip(x.shape, self.widths))
        y = get_array_module(x).full(shape, self.value, dtype=x.dtype)
        y[self.span(x.shape)] = x
        return y

    def backward(self, gy):
        return gy[self.span(self.inputs[0].shape)]

    def jvp(self, tx):
        return ConstantPad(self.widths, 0)(tx)  # the border is constant: its tangent is 0


_GATHER_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_widths(x, pad):
    """(before, after) per axis, first axis first, from torch's flat last-axis-first tuple
    (left, right, top, bottom, ...) or NumPy's ((before, after), ...) for every axis."""
    pad = list(pad) if isinstance(pad, (list, tuple)) else pad
    if isinstance(pad, list) and pad and all(isinstance(p, (list, tuple)) for p in pad):
        if len(pad) != x.ndim or any(len(p) != 2 for p in pad):
            raise ValueError(f"pad: NumPy-style pad widths need one (before, after) pair per "
                             f"axis of shape {x.shape}, got {pad}")
        return [(int(b), int(a)) for b, a in pad]
    if not isinstance(pad, list) or len(pad) % 2 or len(pad) > 2 * x.ndim:
        raise ValueError(f"pad: expects torch's flat (left, right, top, bottom, ...) of even "
                         f"length at most {2 * x.ndim} for shape {x.shape}, or one "
                         f"(before, after) pair per axis; got {pad!r}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    return [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]


def pad(x, pad, mode="constant", value=0.0):
    """x padded as torch.nn.functional.pad: ``pad`` = (left, right, top, bottom, ...) widths for
    the last axis first; NumPy's ((before, after), ...) per axis, first axis first, is read
    too. ``mode``: "constant" (``value``; negative widths crop, as torch), "reflect"
    (mirror without the edge), "replicate" (repeat the edge), "circular" (wrap around).

    >>> pad(Variable(np.ones((1, 2))), (1, 0)).data
    array([[0., 1., 1.]])
    """
    x = as_variable(x)
    widths = _pad_widths(x, pad)
    if mode == "constant":
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, widths))
        if any(b < 0 or a < 0 for b, a in widths):
            x = indexing.get_item(x, crop)
        widths = tuple((max(b, 0), max(a, 0)) for b, a in widths)
        return ConstantPad(widths, value)(x) if any(map(any, widths)) else x
    if mode not in _GATHER_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    xp = get_array_module(x.data)
    for axis, (n, (b, a)) in enumerate(zip(x.shape, widths)):
        if not (b or a):
            continue
        limit = n - 1 if mode == "reflect" else n if mode == "circular" else math.inf
        if min(b, a) < 0 or max(b, a) > limit or n == 0:
            raise ValueError(f"pad: {mode} padding of ({b}, {a}) does not fit axis {axis} of "
                             f"length {n} (shape {x.shape})")
        # the source index of each padded position: a gather, whose gradient adds back
        index = xp.pad(xp.arange(n), (b, a), mode=_GATHER_MODES[mode])
        x = indexing.get_item(x, (slice(None),) * axis + (index,))
    return x
