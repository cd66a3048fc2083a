"""Binary losses: binary_cross_entropy on probabilities, binary_cross_entropy_with_logits
(torch's names) and sigmoid_cross_entropy (DeZero's name for the latter's mean).

Each is one elementwise Function of the input (targets are constants); weights and
the reduction are applied after it, by ``reduced``.
"""

import numpy as np

from chainrule.backend import get_array_module, with_constant
from chainrule.core import Function, as_variable
from chainrule.core.function import batchable
from chainrule.functions.activation import sigmoid
from chainrule.functions.loss import check_reduction, reduced, target_array
from chainrule.functions.math import clip


class BinaryCrossEntropy(Function):
    """loss = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100))  (torch's clamp of log);
    gx = gy (x - t) / max(x (1 - x), 1e-12)  (torch's formula, finite at 0 and 1)"""

    keeps_outputs = False
    name = "binary_cross_entropy"

    def __init__(self, t):
        self.t = t

    def forward(self, x):
        xp = get_array_module(x)
        with np.errstate(divide="ignore"):  # log 0 = -inf, clamped next (CuPy never warns)
            log_x = with_constant(xp.maximum, xp.log(x), -100)  # a block of -100: 3x faster
            log_rest = with_constant(xp.maximum, xp.log1p(-x), -100)
        return -(self.t * log_x + (1 - self.t) * log_rest)

    def backward(self, gy):
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        (x,) = self.inputs
        return (x - self.t) / clip(x * (1 - x), 1e-12, None)


class SigmoidCrossEntropy(Function):
    """loss = (1 - t) x + (1 + (p - 1) t) (log(1 + e^-|x|) + max(-x, 0)),  p = pos_weight
    (= -[p t log σ(x) + (1 - t) log(1 - σ(x))], in a form stable for any x);
    gx = gy ((1 + (p - 1) t) σ(x) - p t)"""

    keeps_outputs = False
    name = "binary_cross_entropy_with_logits"

    def __init__(self, t, pos_weight):
        self.t = t
        self.pos_weight = pos_weight  # None: 1

    def forward(self, x):
        xp = get_array_module(x)
        # -log σ(x); max(-x, 0) against a block of zeros (with_constant: 3x faster)
        softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + with_constant(xp.maximum, -x, 0)
        if self.pos_weight is None:
            return (1 - self.t) * x + softplus_neg
        return (1 - self.t) * x + (1 + (self.pos_weight - 1) * self.t) * softplus_neg

    def backward(self, gy):
        return gy * self.slope()

    def jvp(self, tx):
        return tx * self.slope()

    def slope(self):
        (x,) = self.inputs
        if self.pos_weight is None:
            return sigmoid(x) - self.t
        p, t = self.pos_weight, self.t
        return sigmoid(x) * (1 + (p - 1) * t) - p * t


def _targets(op, x, target):
    t = target_array(target, x)
    if t.shape != x.shape:
        raise ValueError(f"{op}: input of shape {x.shape} and target of shape {t.shape} "
                         "differ")
    return t.astype(x.dtype, copy=False)


def _weighted(loss, weight):
    return loss if weight is None else loss * weight


@batchable
def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    """Binary cross entropy of probabilities ``input`` in [0, 1] against ``target`` (same
    shape), as torch's: each log is clamped at -100, so x = 0 or 1 gives 100, not inf.
    ``weight`` broadcasts against the elementwise loss."""
    check_reduction("binary_cross_entropy", reduction)
    x = as_variable(input)
    t = _targets("binary_cross_entropy", x, target)
    xs = x.data
    if xs.size and not ((xs >= 0) & (xs <= 1)).all():
        raise ValueError("binary_cross_entropy: input values must lie in [0, 1] "
                         "(probabilities; use binary_cross_entropy_with_logits on logits)")
    return reduced(_weighted(BinaryCrossEntropy(t)(x), weight),
                   reduction)


@batchable
def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean",
                                     pos_weight=None):
    """Binary cross entropy of sigmoid(input) against ``target``, as torch's, stable for any
    logit. ``pos_weight`` (broadcast against the last axis, e.g. (C,)) weighs the positive
    term of each class; ``weight`` broadcasts against the elementwise loss."""
    op = "binary_cross_entropy_with_logits"
    check_reduction(op, reduction)
    x = as_variable(input)
    t = _targets(op, x, target)
    if pos_weight is not None:
        pos_weight = target_array(pos_weight, x).astype(x.dtype, copy=False)
    return reduced(_weighted(SigmoidCrossEntropy(t, pos_weight)(x), weight), reduction)


@batchable
def sigmoid_cross_entropy(x, t):
    """Mean binary cross entropy of sigmoid(x) against targets ``t`` (x's shape, in [0, 1]).

    Equal to torch's ``binary_cross_entropy_with_logits`` (mean reduction); stable for any x.
    """
    x = as_variable(x)
    t = target_array(t, x)
    if t.shape != x.shape:
        raise ValueError(f"sigmoid_cross_entropy: x of shape {x.shape} and t of shape "
                         f"{t.shape} differ")
    return reduced(SigmoidCrossEntropy(t.astype(x.dtype, copy=False), None)(x), "mean")
