"""Regression losses: mse_loss, l1_loss, smooth_l1_loss, huber_loss (torch's names) and
mean_squared_error (DeZero's name for mse_loss's mean).

Input and target broadcast together and both get gradients when they need them.
"""

from chainrule.backend import get_array_module, where
from chainrule.core import Function, Variable, as_variable
from chainrule.core.function import records_backward
from chainrule.functions.loss import check_reduction, reduced
from chainrule.functions.math import abs as absolute
from chainrule.functions.math import clip, square
from chainrule.functions.tangent import total


class SquaredError(Function):
    """loss = Σ (x0 - x1)² / n, n the number of elements ("mean") or 1 ("sum");
    gx0 = 2 (x0 - x1) gy / n, gx1 = -gx0  (one call where mean(square(x0 - x1)) takes three)"""

    keeps_outputs = False
    name = "mse_loss"

    def __init__(self, name, mean):
        self.name = name
        self.mean = mean

    def forward(self, x0, x1):
        diff = x0 - x1
        total = (diff * diff).sum()
        if self.mean:  # the mean of no elements is NaN, as torch's (and without a warning)
            return total / diff.size if diff.size else total * float("nan")
        return total

    def backward(self, gy):
        x0, x1 = self.inputs
        if not records_backward():  # on the arrays: 20 -> 6 µs a call in bench/rnn_loop.py
            diff = x0._data - x1._data
            g = diff * (gy._data * self.slope(diff.size))
            return gy._derived(g), (gy._derived(-g) if x1.requires_grad else None)
        diff = x0 - x1
        gx0 = diff * (gy * self.slope(diff.data.size))
        return gx0, (-gx0 if x1.requires_grad else None)

    def jvp(self, t0, t1):
        """d loss = Σ 2 (x0 - x1)(dx0 - dx1) / n"""
        x0, x1 = self.inputs
        diff = x0 - x1
        dd = total(t0, None if t1 is None else -t1)
        return (diff * dd).sum() * self.slope(diff.data.size)

    def slope(self, size):
        """2 / n, the loss's derivative in (x0 - x1) per unit difference, for ``size`` elements."""
        return 2.0 / (max(size, 1) if self.mean else 1)


class Huber(Function):
    """loss = s · (½ d² where |d| < δ, else δ (|d| - ½ δ)),  d = x0 - x1;
    gx0 = s · gy · clip(d, -δ, δ), gx1 = -gx0.  huber_loss: s = 1; smooth_l1_loss: δ = β, s = 1/β"""

    keeps_outputs = False
    name = "huber_loss"

    def __init__(self, name, delta, scale):
        self.name = name
        self.delta = delta
        self.scale = scale

    def forward(self, x0, x1):
        xp = get_array_module(x0)
        d = x0 - x1
        a = xp.abs(d)
        loss = where(a < self.delta, 0.5 * d * d, (a - 0.5 * self.delta) * self.delta)
        return loss * self.scale if self.scale != 1 else loss

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = gy * clip(x0 - x1, -self.delta, self.delta)
        if self.scale != 1:
            gx0 = gx0 * self.scale
        return gx0, -gx0

    def jvp(self, t0, t1):
        x0, x1 = self.inputs
        dd = total(t0, None if t1 is None else -t1)
        ty = clip(x0 - x1, -self.delta, self.delta) * dd
        return ty * self.scale if self.scale != 1 else ty


def _pair(x0, x1):
    if not isinstance(x0, Variable) and not isinstance(x1, Variable):
        x0 = as_variable(x0)
    return x0, x1


def mse_loss(input, target, *, reduction="mean"):
    """Mean ("mean"), sum ("sum") or elementwise ("none") of (input - target)², as torch's."""
    check_reduction("mse_loss", reduction)
    x0, x1 = _pair(input, target)
    if reduction == "none":
        return square(x0 - x1)
    return SquaredError("mse_loss", reduction == "mean")(x0, x1)


def mean_squared_error(x0, x1):
    """loss = mean((x0 - x1)²) over every element (x0 and x1 broadcast together)."""
    return SquaredError("mean_squared_error", True)(*_pair(x0, x1))


def l1_loss(input, target, *, reduction="mean"):
    """|input - target| reduced, as torch's; the gradient at equal values is 0."""
    check_reduction("l1_loss", reduction)
    x0, x1 = _pair(input, target)
    return reduced(absolute(x0 - x1), reduction)


def huber_loss(input, target, *, reduction="mean", delta=1.0):
    """½ d² for |d| < δ, δ (|d| - ½ δ) beyond (d = input - target), reduced, as torch's."""
    check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return reduced(Huber("huber_loss", delta, 1)(*_pair(input, target)), reduction)


def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    """½ d² / β for |d| < β, |d| - ½ β beyond, reduced, as torch's: huber_loss / β, and
    l1_loss when β = 0."""
    check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return reduced(Huber("smooth_l1_loss", beta, 1.0 / beta)(*_pair(input, target)),
                   reduction)
