"""Activation functions: sigmoid, relu, leaky_relu, gelu, softmax, log_softmax.

The hot elementwise ones (sigmoid, relu, leaky_relu) run their backward as one
fused Function (``SigmoidGrad``, ``ReluGrad``, ``LeakyReluGrad``), so a plain
backward costs one call per op; each fused gradient has a backward of its own
for higher-order derivatives. Kinks follow PyTorch: relu'(0) = 0. sigmoid, relu,
softmax and log_softmax are defined in core (``core.elementwise``, ``core.reductions``),
where Variable's methods reach them; these wrappers lift arrays to Variables.
"""

import math

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable, reductions
from chainrule.core.aliases import either
from chainrule.core.elementwise import ReLU, Sigmoid, TanhGrad
from chainrule.functions.math import tanh


class LeakyReLU(Function):
    """y = x where x > 0, else slope · x;  dy/dx = 1 where x > 0, else slope"""

    keeps_outputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        return get_array_module(x).where(x > 0, x, x * self.slope)

    def backward(self, gy):
        return LeakyReluGrad(self.slope)(gy, self.inputs[0])


class LeakyReluGrad(Function):
    """gx = gy where x > 0, else slope · gy;  linear in gy, piecewise constant in x"""

    keeps_outputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, gy, x):
        return get_array_module(gy).where(x > 0, gy, gy * self.slope)

    def backward(self, ggx):
        return LeakyReluGrad(self.slope)(ggx, self.inputs[1]), None


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


class GELU(Function):
    """y = x/2 · (1 + tanh u),  u = √(2/π) (x + 0.044715 x³)  (torch's approximate='tanh');
    dy/dx = (1 + t)/2 + x/2 · (1 - t²) · √(2/π) (1 + 3 · 0.044715 x²),  t = tanh u"""

    keeps_outputs = False

    def forward(self, x):
        u = (x + _GELU_A * x * x * x) * _GELU_C
        return x * (get_array_module(x).tanh(u) + 1) * 0.5

    def backward(self, gy):
        (x,) = self.inputs
        x2 = x * x
        t = tanh((x + _GELU_A * x2 * x) * _GELU_C)
        du = (1 + (3 * _GELU_A) * x2) * _GELU_C
        # d tanh = (1 - t²) du: TanhGrad forms it in one call and differentiates again
        return gy * ((1 + t) * 0.5 + TanhGrad()(x * du, t) * 0.5)


def sigmoid(x):
    """y = 1 / (1 + e⁻ˣ), stable for any x."""
    return Sigmoid()(as_variable(x))


def relu(x):
    """y = max(x, 0); the gradient at 0 is 0, as in PyTorch."""
    return ReLU()(as_variable(x))


def leaky_relu(x, slope=0.01, *, negative_slope=None):
    """y = x for x > 0, slope · x otherwise; the gradient at 0 is ``slope``, as in PyTorch.

    ``slope`` is PyTorch's ``negative_slope``.
    """
    slope = either("leaky_relu", slope=slope, negative_slope=negative_slope, default=0.01)
    return LeakyReLU(slope)(as_variable(x))


def gelu(x):
    """GELU, tanh approximation: equal to torch's ``gelu(x, approximate='tanh')``."""
    return GELU()(as_variable(x))


def softmax(x, axis=-1, *, dim=None):
    """Softmax along ``axis`` (PyTorch's ``dim``; shape kept); each slice sums to 1."""
    return reductions.softmax(as_variable(x), axis, dim)


def log_softmax(x, axis=-1, *, dim=None):
    """log(softmax(x)) along ``axis`` (PyTorch's ``dim``), computed stably as x - logsumexp(x)."""
    return reductions.log_softmax(as_variable(x), axis, dim)
