"""Ops of one Variable and a constant: ``x + 2``, ``x * c`` with c a NumPy array.

The constant is a setting of the op, not an input, so no constant Variable is
made and no gradient is computed for it (see ``ScalarOp``).
"""

from chainrule.backend import get_array_module
from chainrule.core.function import Function, records_backward


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


class AddScalar(ScalarOp):
    """y = x + c;  dy/dx = 1"""

    verb = "add"

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy

    def jvp(self, t):
        return t


class SubScalar(ScalarOp):
    """y = x - c;  dy/dx = 1"""

    verb = "sub"

    def forward(self, x):
        return x - self.c

    def backward(self, gy):
        return gy

    def jvp(self, t):
        return t


class RSubScalar(ScalarOp):
    """y = c - x;  dy/dx = -1"""

    verb = "sub"

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy

    def jvp(self, t):
        return -t


class MulScalar(ScalarOp):
    """y = c x;  dy/dx = c"""

    verb = "mul"

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        if not records_backward():  # on the arrays (see records_backward)
            return gy._derived(gy._data * self.c)
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
