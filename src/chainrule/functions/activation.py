"""Activation functions: sigmoid, relu, leaky_relu, gelu, silu, elu, softplus, hardtanh,
softmax, log_softmax.

The hot elementwise ones (sigmoid, relu, leaky_relu) run their backward as one
fused Function (``SigmoidGrad``, ``ReluGrad``, ``LeakyReluGrad``), so a plain
backward costs one call per op; each fused gradient has a backward of its own
for higher-order derivatives. Kinks follow PyTorch: relu'(0) = 0. sigmoid, relu,
softmax and log_softmax are defined in core (``core.elementwise``, ``core.reductions``),
where Variable's methods reach them; these wrappers lift arrays to Variables.
"""

import math

from chainrule import backend
from chainrule.backend import get_array_module, scratch, with_constant
from chainrule.core import Function, as_variable, reductions
from chainrule.core.aliases import either
from chainrule.core.elementwise import ReLU, Sigmoid, TanhGrad
from chainrule.functions.math import exp as _exp
from chainrule.functions.math import tanh
from chainrule.functions.shape import where


class LeakyReLU(Function):
    """y = x where x > 0, else slope · x;  dy/dx = 1 where x > 0, else slope"""

    keeps_outputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        return _leaky(x, x, self.slope, "leaky relu")

    def backward(self, gy):
        return LeakyReluGrad(self.slope)(gy, self.inputs[0])

    def jvp(self, tx):
        return LeakyReluGrad(self.slope)(tx, self.inputs[0])


class LeakyReluGrad(Function):
    """gx = gy where x > 0, else slope · gy;  linear in gy, piecewise constant in x"""

    keeps_outputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, gy, x):
        return _leaky(x, gy, self.slope, "leaky relu grad")

    def backward(self, ggx):
        return LeakyReluGrad(self.slope)(ggx, self.inputs[1]), None

    def jvp(self, tgy, tx):
        # piecewise constant in x: only gy's tangent moves gx
        return None if tgy is None else LeakyReluGrad(self.slope)(tgy, self.inputs[1])


def _leaky(x, y, slope, tag):
    """where(x > 0, y, y · slope), y being x (forward) or gy (gradient), with no temporary:
    the product is written into a result from ``scratch``, y's bits are picked into it where
    x > 0 (backend.where), the mask is taken from scratch too. bench's CNN with leaky_relu
    for relu, one thread: with fresh temporaries 1,536 page faults and 16.3-16.8 ms a step,
    without them none and 11.1-12.4 ms (relu's step 10.4)."""
    if y.dtype.kind != "f" or y.shape != x.shape:
        return backend.where(x > 0, y, y * slope)
    xp = get_array_module(y)
    out = xp.multiply(y, slope, out=scratch.result_like(tag, y))
    mask = scratch.take_like("leaky relu mask", x, bool)
    xp.logical_not(xp.greater(x, 0, out=mask), out=mask)  # NaN keeps the product, as where
    backend.where(mask, out, y, out=out)
    scratch.give("leaky relu mask", mask)
    return out


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
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        """dy/dx, as chainrule operations on the input."""
        (x,) = self.inputs
        x2 = x * x
        t = tanh((x + _GELU_A * x2 * x) * _GELU_C)
        du = (1 + (3 * _GELU_A) * x2) * _GELU_C
        # d tanh = (1 - t²) du: TanhGrad forms it in one call and differentiates again
        return (1 + t) * 0.5 + TanhGrad()(x * du, t) * 0.5


class SiLU(Function):
    """y = x σ(x);  dy/dx = σ(x) (1 + x (1 - σ(x)))"""

    keeps_outputs = False

    def forward(self, x):
        return x * (get_array_module(x).tanh(x * 0.5) * 0.5 + 0.5)

    def backward(self, gy):
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        (x,) = self.inputs
        s = sigmoid(x)
        return s * (1 + x * (1 - s))


class ELU(Function):
    """y = x where x > 0, else α (eˣ - 1);  dy/dx = 1 where x > 0, else α eˣ (α at 0, as torch)"""

    keeps_outputs = False

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        positive = x > 0  # first: x is then in cache, where a block of zeros pays (with_constant)
        negative = with_constant(xp.minimum, x, 0)
        return backend.where(positive, x, self.alpha * xp.expm1(negative))

    def backward(self, gy):
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        (x,) = self.inputs
        positive = ~(x.data <= 0)  # NaN takes the identity branch's 1, as torch's elu_backward
        # eˣ of the negative part only: a large positive x must not overflow into the graph
        negative_part = where(positive, 0.0, x)
        return where(positive, 1.0, _exp(negative_part) * self.alpha)


class Softplus(Function):
    """y = log(1 + e^(βx)) / β, or x where βx > threshold (torch's linear tail);
    dy/dx = σ(βx), or 1 on the tail"""

    keeps_outputs = False

    def __init__(self, beta, threshold):
        self.beta = beta
        self.threshold = threshold

    def forward(self, x):
        xp = get_array_module(x)
        z = x * self.beta
        soft = xp.log1p(xp.exp(with_constant(xp.minimum, z, self.threshold))) / self.beta
        return backend.where(z > self.threshold, x, soft).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        (x,) = self.inputs
        tail = x.data * self.beta > self.threshold
        return where(tail, 1.0, sigmoid(x * self.beta))


class Hardtanh(Function):
    """y = clip(x, min_val, max_val);  dy/dx = 1 where min_val < x < max_val, else 0
    (open bounds, as torch's hardtanh; clip keeps them, as torch.clamp)"""

    keeps_outputs = False

    def __init__(self, min_val, max_val):
        self.min_val = min_val
        self.max_val = max_val

    def forward(self, x):
        return get_array_module(x).clip(x, self.min_val, self.max_val)

    def backward(self, gy):
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        x = self.inputs[0].data
        return ((x > self.min_val) & (x < self.max_val)).astype(x.dtype)


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


def silu(x):
    """SiLU (swish): y = x σ(x)."""
    return SiLU()(as_variable(x))


def elu(x, alpha=1.0):
    """ELU: y = x for x > 0, α (eˣ - 1) otherwise; the gradient at 0 is α, as in PyTorch."""
    return ELU(alpha)(as_variable(x))


def softplus(x, beta=1.0, threshold=20.0):
    """y = log(1 + e^(βx)) / β, and y = x where βx > ``threshold``, exactly as PyTorch's."""
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return Softplus(beta, threshold)(as_variable(x))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """y = x clipped to [min_val, max_val]; the gradient is 0 at the bounds, as in PyTorch."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    return Hardtanh(min_val, max_val)(as_variable(x))


def softmax(x, axis=-1, *, dim=None):
    """Softmax along ``axis`` (PyTorch's ``dim``; shape kept); each slice sums to 1."""
    return reductions.softmax(as_variable(x), axis, dim)


def log_softmax(x, axis=-1, *, dim=None):
    """log(softmax(x)) along ``axis`` (PyTorch's ``dim``), computed stably as x - logsumexp(x)."""
    return reductions.log_softmax(as_variable(x), axis, dim)
