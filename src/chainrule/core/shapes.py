"""Shape changes behind Variable's methods: flatten, squeeze, unsqueeze, expand, permute,
transpose.

Each is a reshape, a transpose or a broadcast from ``core.shape_ops``, so each differentiates
again; what lives here is the shape arithmetic and the errors, once, for the methods
and for ``chainrule.functions`` alike.
"""

import math

from chainrule.core import ops


def _axis_in(op, axis, ndim, shape):
    """``axis`` as a non-negative index into ``ndim`` axes, or a ValueError naming ``op``."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for shape {shape}")
    return axis % ndim


def flatten(x, start_dim=0, end_dim=-1):
    """Join the axes ``start_dim`` to ``end_dim`` (both included) into one, as torch.flatten.

    A 0-d x becomes shape (1,), as in PyTorch.
    """
    if x.ndim == 0:
        return ops.reshape(x, (1,))
    start = _axis_in("flatten", start_dim, x.ndim, x.shape)
    end = _axis_in("flatten", end_dim, x.ndim, x.shape)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for shape {x.shape}")
    joined = math.prod(x.shape[start:end + 1])
    return ops.reshape(x, x.shape[:start] + (joined,) + x.shape[end + 1:])


def unsqueeze(x, axis, op="unsqueeze"):
    """Insert an axis of length 1 at ``axis`` (-1: a new last axis); errors name ``op``."""
    axis = _axis_in(op, axis, x.ndim + 1, x.shape)
    return ops.reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    """Remove axes of length 1: ``axis`` (an int or tuple) or, when None, all of them.

    Naming an axis longer than 1 is an error, as in NumPy (PyTorch leaves it).
    """
    if axis is None:
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = set()
        for a in axis if isinstance(axis, (tuple, list)) else (axis,):
            a = _axis_in("squeeze", a, x.ndim, x.shape)
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} has length "
                                 f"{x.shape[a]}, not 1")
            axes.add(a)
    return ops.reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def expand(x, shape):
    """x broadcast to ``shape``, where -1 keeps x's length on that axis (torch's ``expand``).

    New axes may be added in front; an axis can grow only from length 1.
    """
    shape = tuple(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: shape {shape} has fewer axes than {x.shape}")
    sizes = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    if any(n < 0 for n in sizes) or any(
            m != n and m != 1 for m, n in zip(x.shape, sizes[lead:])):
        raise ValueError(f"expand: shape {x.shape} cannot expand to {shape}")
    return ops.broadcast_to(x, sizes)


def permute(x, axes):
    """The axes of x reordered: axis i of the result is axis ``axes[i]`` of x."""
    axes = tuple(axes)
    known = [a % x.ndim for a in axes if isinstance(a, int) and -x.ndim <= a < x.ndim]
    if len(known) != len(axes) or sorted(known) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not an order of the {x.ndim} axes of {x.shape}")
    return ops.transpose(x, axes)


def transpose(x, axes=None, dim1=None):
    """NumPy's ``transpose(x, axes)`` (None reverses the axes), or PyTorch's
    ``transpose(x, dim0, dim1)`` when ``dim1`` is given: those two axes swapped."""
    if dim1 is None:
        return ops.transpose(x, None if axes is None else tuple(axes))
    order = list(range(x.ndim))
    a, b = (_axis_in("transpose", d, x.ndim, x.shape) for d in (axes, dim1))
    order[a], order[b] = order[b], order[a]
    return ops.transpose(x, tuple(order))
