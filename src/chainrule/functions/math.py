"""Elementwise arithmetic and mathematical functions.

The arithmetic wrappers (add, sub, mul, div, neg, pow, log) call the core
operations that Variable's own operators use; they only accept arrays or
scalars on either side. The rest are Functions whose docstring is the rule and
whose backward is written with chainrule operations, so it differentiates again.
Where the derivative is simpler in the output (exp, tanh, tan, sqrt), backward
reuses the output instead of recomputing from the input. exp, sqrt, abs, tanh and
clip are defined in ``core.elementwise``, where Variable's methods reach them.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, Variable, as_variable, ops
from chainrule.core.elementwise import Abs, Clip, Exp, Sqrt, Tanh


def _binary(x0, x1):
    """Make sure at least one operand is a Variable; Function lifts the other in its dtype."""
    if isinstance(x0, Variable) or isinstance(x1, Variable):
        return x0, x1
    # a Python scalar takes the dtype of the array beside it, as in NumPy
    if isinstance(x0, (int, float)) and not isinstance(x1, (int, float)):
        return x0, as_variable(x1)
    return as_variable(x0), x1


def add(x0, x1):
    """y = x0 + x1 (broadcasting)."""
    return ops.add(*_binary(x0, x1))


def sub(x0, x1):
    """y = x0 - x1 (broadcasting)."""
    return ops.sub(*_binary(x0, x1))


def mul(x0, x1):
    """y = x0 * x1 (broadcasting)."""
    return ops.mul(*_binary(x0, x1))


def div(x0, x1):
    """y = x0 / x1 (broadcasting)."""
    return ops.div(*_binary(x0, x1))


def neg(x):
    """y = -x."""
    return ops.neg(as_variable(x))


def pow(x0, x1):
    """y = x0 ** x1 (broadcasting); the exponent gets a gradient only when it needs one."""
    return ops.pow(*_binary(x0, x1))


def log(x):
    """y = log x (natural logarithm)."""
    return ops.log(as_variable(x))


class Square(Function):
    """y = x²;  dy/dx = 2x"""

    keeps_outputs = False

    def forward(self, x):
        return x * x

    def backward(self, gy):
        (x,) = self.inputs
        return gy * (x + x)

    def jvp(self, tx):
        (x,) = self.inputs
        return tx * (x + x)


class Sin(Function):
    """y = sin x;  dy/dx = cos x"""

    keeps_outputs = False

    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy * cos(x)

    def jvp(self, tx):
        (x,) = self.inputs
        return tx * cos(x)


class Cos(Function):
    """y = cos x;  dy/dx = -sin x"""

    keeps_outputs = False

    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        (x,) = self.inputs
        return -gy * sin(x)

    def jvp(self, tx):
        (x,) = self.inputs
        return -tx * sin(x)


class Tan(Function):
    """y = tan x;  dy/dx = 1 + y²"""

    def forward(self, x):
        return get_array_module(x).tan(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * (1 + y * y)

    def jvp(self, tx):
        y = self.outputs[0]()
        return tx * (1 + y * y)


def square(x):
    """y = x²."""
    return Square()(as_variable(x))


def sqrt(x):
    """y = √x (x > 0 for a finite gradient)."""
    return Sqrt()(as_variable(x))


def exp(x):
    """y = eˣ."""
    return Exp()(as_variable(x))


def sin(x):
    """y = sin x."""
    return Sin()(as_variable(x))


def cos(x):
    """y = cos x."""
    return Cos()(as_variable(x))


def tan(x):
    """y = tan x."""
    return Tan()(as_variable(x))


def tanh(x):
    """y = tanh x."""
    return Tanh()(as_variable(x))


def abs(x):
    """y = |x|; the gradient at 0 is 0, as in PyTorch."""
    return Abs()(as_variable(x))


def clip(x, x_min, x_max):
    """y = x clipped to [x_min, x_max]; the gradient is 1 inside (bounds included), 0 outside.

    >>> clip(Variable(np.array([-2.0, 0.5, 3.0])), -1.0, 1.0)
    variable([-1. ,  0.5,  1. ])
    """
    return Clip(x_min, x_max)(as_variable(x))
