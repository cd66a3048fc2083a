"""Ops of one Variable and a constant: ``x + 2``, ``x * c`` with c a NumPy array.

The constant is a setting of the op, not an input, so no constant Variable is
made and no gradient is computed for it (see ``ScalarOp``).
"""

import operator

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core.function import Function, records_backward

FLOAT64 = np.dtype(np.float64)


class ScalarOp(Function):
    """An op of one Variable and a constant ``c``, kept as a setting, not an input.

    ``c`` is a Python number or a NumPy array that needs no gradient: Variable's
    operators choose these ops for such operands, so no constant Variable is made
    and no gradient is computed for c. NumPy keeps Python numbers weak, so a
    float32 x stays float32; an array c promotes and broadcasts as in NumPy (the
    engine sums a broadcast gradient back to x's shape).
    """

    __slots__ = ("c",)
    keeps_outputs = False
    saves_inputs = False
    verb = ""

    def __init__(self, c):
        self.c = c

    @property
    def name(self):
        if hasattr(self.c, "shape"):
            return self.verb
        return f"{self.verb} {self.c!r}"

    def describe_failure(self, error, xs):
        return super().describe_failure(error, (*xs, self.c))

    # ``x + c``, ``x - c``, ``c - x`` and ``x * c`` are ``operation(x, c)``, run on Python floats
    # when x is a float64 0-d NumPy array and c a Python number: NumPy spends ~730 ns on
    # arithmetic with a 0-d array, Python ~15 ns on floats, and both round the same IEEE
    # double op; an inf or NaN result is left to NumPy, with its warnings. deep_chain is
    # 300,000 such ops (forward and backward): 77.2k -> 68.0k instructions per iteration
    # (callgrind). Division and powers keep their own forward: Python's raise where NumPy's
    # give inf.
    operation = None

    def forward(self, x):
        c = self.c
        if (type(c) is float or type(c) is int) and type(x) is np.ndarray and x.ndim == 0 \
                and x.dtype is FLOAT64:
            y = self.operation(x.item(), c)
            if y - y == 0:  # finite
                return np.array(y)
        return self.operation(x, c)


class AddScalar(ScalarOp):
    """y = x + c;  dy/dx = 1"""

    verb = "add"
    operation = operator.add

    def backward(self, gy):
        return gy

    def jvp(self, t):
        return t


class SubScalar(ScalarOp):
    """y = x - c;  dy/dx = 1"""

    verb = "sub"
    operation = operator.sub

    def backward(self, gy):
        return gy

    def jvp(self, t):
        return t


class RSubScalar(ScalarOp):
    """y = c - x;  dy/dx = -1"""

    verb = "sub"
    operation = staticmethod(lambda x, c: c - x)

    def backward(self, gy):
        return -gy

    def jvp(self, t):
        return -t


class MulScalar(ScalarOp):
    """y = c x;  dy/dx = c"""

    verb = "mul"
    operation = operator.mul

    def backward(self, gy):
        if not records_backward():  # on the arrays (see records_backward)
            return gy._derived(self.forward(gy._data))
        return MulScalar(self.c)(gy)

    def jvp(self, t):
        return MulScalar(self.c)(t)


class DivScalar(ScalarOp):
    """y = x / c;  dy/dx = 1/c"""

    verb = "div"

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return DivScalar(self.c)(gy)

    def jvp(self, t):
        return DivScalar(self.c)(t)


class PowScalar(ScalarOp):
    """y = x ** c;  dy/dx = c x^(c-1), and 0 everywhere when c = 0 (as torch.pow, even at 0)"""

    verb = "pow"
    saves_inputs = True

    def forward(self, x):
        return x**self.c

    def backward(self, gy):
        if self.c == 0:
            return gy._derived(get_array_module(gy._data).zeros_like(gy._data))
        (x,) = self.inputs
        return gy * MulScalar(self.c)(PowScalar(self.c - 1)(x))

    def jvp(self, t):
        if self.c == 0:
            return None
        (x,) = self.inputs
        return t * MulScalar(self.c)(PowScalar(self.c - 1)(x))
