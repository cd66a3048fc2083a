"""The operations a Variable's own operators need: arithmetic, casts and copies, where,
matmul; and, from ``shape_ops.py``, reshape, transpose, sums and broadcasts, so that
``ops`` names every core operation.

Each is a Function whose docstring is the rule. Backward is written with these
same operations, so every gradient can be differentiated again. Binary rules
return the gradient at the broadcast shape: the engine sums it down to each
input's shape, in one place.
"""

from chainrule import backend
from chainrule.backend import get_array_module
from chainrule.core.function import Function, records_backward
from chainrule.core.shape_ops import (  # noqa: F401 (ops is the namespace of every core op)
    BroadcastTo,
    Reshape,
    Sum,
    SumTo,
    Transpose,
    broadcast_to,
    kept_shape,
    reshape,
    sum,
    sum_array_to,
    sum_to,
    swap_last_axes,
    transpose,
)


class Add(Function):
    """y = x0 + x1;  dy/dx0 = dy/dx1 = 1"""

    keeps_outputs = False
    saves_inputs = False

    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        return gy, gy

    def jvp(self, t0, t1):
        return plus(t0, t1)


class Sub(Function):
    """y = x0 - x1;  dy/dx0 = 1, dy/dx1 = -1"""

    keeps_outputs = False
    saves_inputs = False

    def forward(self, x0, x1):
        return x0 - x1

    def backward(self, gy):
        return gy, (-gy if self.inputs[1].requires_grad else None)  # no Neg for a constant

    def jvp(self, t0, t1):
        return plus(t0, None if t1 is None else -t1)


class Mul(Function):
    """y = x0 * x1;  dy/dx0 = x1, dy/dx1 = x0"""

    keeps_outputs = False

    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs  # a constant operand's gradient is not made
        if not records_backward():  # on the arrays (see records_backward)
            g = gy._data
            return (gy._derived(g * x1._data) if x0.requires_grad else None,
                    gy._derived(g * x0._data) if x1.requires_grad else None)
        return (gy * x1 if x0.requires_grad else None), (gy * x0 if x1.requires_grad else None)

    def jvp(self, t0, t1):
        x0, x1 = self.inputs
        return plus(times(t0, x1), times(t1, x0))


class Div(Function):
    """y = x0 / x1;  dy/dx0 = 1/x1, dy/dx1 = -x0/x1²"""

    keeps_outputs = False

    def forward(self, x0, x1):
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = gy / x1
        return gx0, (-gx0 * x0 / x1 if x1.requires_grad else None)  # none for a constant

    def jvp(self, t0, t1):
        x0, x1 = self.inputs
        return plus(None if t0 is None else t0 / x1, None if t1 is None else -t1 * x0 / (x1 * x1))


class Neg(Function):
    """y = -x;  dy/dx = -1"""

    keeps_outputs = False
    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy

    def jvp(self, t):
        return -t


class Pow(Function):
    """y = x0 ** x1;  dy/dx0 = x1 x0^(x1-1), dy/dx1 = y log x0 (only when x1 needs it)

    At the edges, as ``torch.pow``: dy/dx0 = 0 where x1 = 0 (so ``0 ** 0`` has
    slope 0, not NaN), and dy/dx1 = 0 where x0 = 0 and x1 >= 0.
    """

    def forward(self, x0, x1):
        return x0**x1

    def backward(self, gy):
        gx0 = gy * self.base_slope()
        if not self.inputs[1].requires_grad:
            return gx0, None
        return gx0, gy * self.exponent_slope()

    def jvp(self, t0, t1):
        return plus(times(t0, self.base_slope()), times(t1, self.exponent_slope()))

    def base_slope(self):
        """∂y/∂x0 = x1 x0^(x1-1), and 0 where x1 = 0 (even where x0^(x1-1) is inf)."""
        x0, x1 = self.inputs
        flat = x1._data == 0
        if flat.any():
            return where(flat, 0.0, x1 * where(flat, 1.0, x0) ** (x1 - 1))
        return x1 * x0 ** (x1 - 1)

    def exponent_slope(self):
        """∂y/∂x1 = y log x0, and 0 where x0 = 0 and x1 >= 0 (y is 0 or 1 there)."""
        x0, x1 = self.inputs
        y = self.outputs[0]()
        floor = (x0._data == 0) & (x1._data >= 0)
        if floor.any():
            return where(floor, 0.0, y * log(where(floor, 1.0, x0)))
        return y * log(x0)


class Log(Function):
    """y = log x;  dy/dx = 1/x"""

    keeps_outputs = False

    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy / x

    def jvp(self, t):
        return t / self.inputs[0]


class Cast(Function):
    """y = x as ``dtype``;  gx = gy cast back to x's dtype"""

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.inputs[0].dtype)

    def jvp(self, t):
        return cast(t, self.dtype)


class Copy(Function):
    """y = a copy of x (its own buffer);  gx = gy"""

    keeps_outputs = False
    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy

    def jvp(self, t):
        return t


class Alias(Function):
    """y = x, a new node over the same buffer;  gx = gy, ẏ = ẋ

    What a transform (``chainrule.func``) differentiates with respect to, and what
    ``make_dual`` gives a tangent: the caller's Variable is left as it was.
    """

    keeps_outputs = False
    saves_inputs = False

    def forward(self, x):
        return x.view()

    def backward(self, gy):
        return gy

    def jvp(self, t):
        return t


class Where(Function):
    """y = x0 where condition, else x1 (broadcasting);  gx0 = gy · c, gx1 = gy · (1 - c)

    ``condition`` is a boolean array, kept as a setting: it gets no gradient.
    """

    keeps_outputs = False
    saves_inputs = False

    def __init__(self, condition):
        self.condition = condition

    def forward(self, x0, x1):
        return backend.where(self.condition, x0, x1)  # a bit-select on large arrays: 8x faster

    def backward(self, gy):
        x0, x1 = self.inputs  # a constant branch (where(c, x, 0.0)) gets no gradient made
        return (where(self.condition, gy, 0.0) if x0.requires_grad else None,
                where(self.condition, 0.0, gy) if x1.requires_grad else None)

    def jvp(self, t0, t1):
        return where(self.condition, 0.0 if t0 is None else t0, 0.0 if t1 is None else t1)


class MatMul(Function):
    """y = x0 @ x1 (batched);  gx0 = gy @ x1ᵀ, gx1 = x0ᵀ @ gy over the last two axes"""

    keeps_outputs = False

    def forward(self, x0, x1):
        return x0 @ x1

    def backward(self, gy):
        x0, x1 = self.inputs
        if x0.ndim == 1 and x1.ndim == 1:
            return gy * x1, gy * x0
        if x0.ndim > 1 and x1.ndim > 1 and not records_backward():
            return self.plain_backward(gy, x0, x1)
        a = x0.reshape(1, -1) if x0.ndim == 1 else x0
        b = x1.reshape(-1, 1) if x1.ndim == 1 else x1
        g = gy.reshape(gy.shape[:-1] + (1,) + gy.shape[-1:]) if x0.ndim == 1 else gy
        g = g.reshape(g.shape + (1,)) if x1.ndim == 1 else g
        # a constant operand's gradient is never made: jacrev of W @ x with a fixed
        # (1000, 32) W spent 80% of each backward on W's outer product (bench/func.py)
        gx0 = gx1 = None
        if x0.requires_grad:
            gx0 = matmul(g, swap_last_axes(b))
            if x0.ndim == 1:
                gx0 = gx0.reshape(gx0.shape[:-2] + gx0.shape[-1:])
        if x1.requires_grad:
            gx1 = matmul(swap_last_axes(a), g)
            if x1.ndim == 1:
                gx1 = gx1.reshape(gx1.shape[:-1])
        return gx0, gx1

    def plain_backward(self, gy, x0, x1):
        """The two products on the arrays (see records_backward): no Transpose and MatMul
        made and called per gradient, 14 µs less per matmul of a user's RNN loop. A
        stack of matrices times one matrix, (..., n, k) @ (k, m), gets the matrix's
        gradient as one GEMM over the rows of all the matrices, not one per matrix and
        then a sum."""
        g, a, b = gy._data, x0._data, x1._data
        gx0 = gx1 = None
        if x0.requires_grad:
            gx0 = gy._derived(g @ b.swapaxes(-1, -2))
        if x1.requires_grad:
            if x1.ndim == 2 and x0.ndim > 2:
                rows = g.reshape(-1, g.shape[-1])
                gx1 = gy._derived(a.reshape(len(rows), -1).T @ rows)
            else:
                gx1 = gy._derived(a.swapaxes(-1, -2) @ g)
        return gx0, gx1

    def jvp(self, t0, t1):
        x0, x1 = self.inputs
        return plus(None if t0 is None else matmul(t0, x1), None if t1 is None else matmul(x0, t1))


def plus(*tangents):
    """The sum of the tangents that are not None; None when all are (a zero tangent).

    The tangent rules' one helper: J ẋ adds a term per input that carries a tangent.
    """
    total = None
    for t in tangents:
        if t is not None:
            total = t if total is None else total + t
    return total


def times(t, factor):
    """``t * factor``, or None for a zero tangent ``t``."""
    return None if t is None else t * factor


def add(x0, x1):
    return Add()(x0, x1)


def sub(x0, x1):
    return Sub()(x0, x1)


def mul(x0, x1):
    return Mul()(x0, x1)


def div(x0, x1):
    return Div()(x0, x1)


def neg(x):
    return Neg()(x)


def pow(x0, x1):
    return Pow()(x0, x1)


def log(x):
    return Log()(x)


def cast(x, dtype):
    if x.dtype == dtype:
        return x
    return Cast(dtype)(x)


def copy(x):
    return Copy()(x)


def alias(x):
    return Alias()(x)


def where(condition, x0, x1):
    return Where(condition)(x0, x1)


def matmul(x0, x1):
    return MatMul()(x0, x1)


