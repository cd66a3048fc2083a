"""Losses: softmax cross entropy, mean squared error, sigmoid cross entropy.

Each loss is one Function: the forward computes the scalar from arrays in one
pass (stable for large logits), the backward is the textbook gradient written
with chainrule operations, so it differentiates again.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, Variable, as_variable
from chainrule.functions.activation import sigmoid, softmax


class SoftmaxCrossEntropy(Function):
    """loss = -1/N Σₙ Σ_c tₙ꜀ log softmax(xₙ)꜀, log softmax = x - logsumexp(x) (stable);
    gx = (softmax(x) - t) · gy / N.  Shapes: x (N, C), t one-hot (N, C) -> a scalar."""

    keeps_outputs = False

    name = "softmax_cross_entropy"

    def __init__(self, t):
        self.t = t  # int labels (N,) or one-hot / probabilities (N, C)

    def forward(self, x):
        xp = get_array_module(x)
        shifted = x - x.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        n = x.shape[0]
        if self.t.ndim == 1:
            picked = log_p[xp.arange(n), self.t]
        else:
            picked = self.t * log_p
        return xp.asarray(-picked.sum() / n, dtype=x.dtype)

    def backward(self, gy):
        (x,) = self.inputs
        t = self.t
        if t.ndim == 1:
            xp = get_array_module(x.data)
            t = xp.zeros(x.shape, dtype=x.dtype)
            t[xp.arange(x.shape[0]), self.t] = 1
        return (softmax(x, axis=1) - t) * (gy / x.shape[0])


class MeanSquaredError(Function):
    """loss = 1/n Σ (x0 - x1)², n the number of elements (x0 and x1 broadcast);
    gx0 = 2 (x0 - x1) gy / n, gx1 = -gx0"""

    keeps_outputs = False

    name = "mean_squared_error"

    def forward(self, x0, x1):
        diff = x0 - x1
        return _mean(diff * diff)

    def backward(self, gy):
        x0, x1 = self.inputs
        diff = x0 - x1
        gx0 = diff * (gy * (2.0 / max(diff.size, 1)))  # no elements: an empty gradient
        return gx0, (-gx0 if x1.requires_grad else None)


class SigmoidCrossEntropy(Function):
    """loss = -1/n Σ [t log σ(x) + (1 - t) log(1 - σ(x))]
           = 1/n Σ [(1 - t) x + max(-x, 0) + log(1 + e^-|x|)]  (torch's stable form of
    binary_cross_entropy_with_logits, term for term, so infinite logits give its values);
    gx = (σ(x) - t) gy / n, n the number of elements"""

    keeps_outputs = False

    name = "sigmoid_cross_entropy"

    def __init__(self, t):
        self.t = t  # targets in [0, 1], x's shape and dtype

    def forward(self, x):
        xp = get_array_module(x)
        losses = (1 - self.t) * x + xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        return xp.asarray(_mean(losses), dtype=x.dtype)

    def backward(self, gy):
        (x,) = self.inputs
        return (sigmoid(x) - self.t) * (gy / max(x.size, 1))


def _mean(losses):
    """The mean of ``losses``; NaN when there are none, as in PyTorch (and without a warning)."""
    return losses.sum() / losses.size if losses.size else losses.sum() * float("nan")


def _target(t):
    return t.data if isinstance(t, Variable) else t


def softmax_cross_entropy(x, t):
    """Mean cross entropy of softmax(x) against labels ``t`` over the batch.

    Shapes: x (N, C) logits; t int labels (N,) in [0, C) or one-hot (N, C) -> a scalar.
    Stable for logits of any size (log-softmax through logsumexp).
    """
    x = as_variable(x)
    xp = get_array_module(x.data)
    t = xp.asarray(_target(t))
    if x.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: x must be (N, C) logits, got shape {x.shape}")
    if t.ndim == 1 and t.shape[0] == x.shape[0]:
        if t.dtype.kind not in "iu":
            raise TypeError(f"softmax_cross_entropy: labels of shape {t.shape} must be "
                            f"integers, got {t.dtype}")
        if t.size and (t.min() < 0 or t.max() >= x.shape[1]):
            raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {x.shape[1]}), "
                             f"got {int(t.min())} to {int(t.max())}")
    elif t.shape == x.shape:
        t = t.astype(x.dtype, copy=False)
    else:
        raise ValueError(f"softmax_cross_entropy: x of shape {x.shape} and t of shape "
                         f"{t.shape} do not match (t: labels (N,) or one-hot (N, C))")
    return SoftmaxCrossEntropy(t)(x)


def mean_squared_error(x0, x1):
    """loss = mean((x0 - x1)²) over every element (x0 and x1 broadcast together)."""
    if not isinstance(x0, Variable) and not isinstance(x1, Variable):
        x0 = as_variable(x0)
    return MeanSquaredError()(x0, x1)


def sigmoid_cross_entropy(x, t):
    """Mean binary cross entropy of sigmoid(x) against targets ``t`` (x's shape, in [0, 1]).

    Equal to torch's ``binary_cross_entropy_with_logits`` (mean reduction); stable for any x.
    """
    x = as_variable(x)
    t = get_array_module(x.data).asarray(_target(t))
    if t.shape != x.shape:
        raise ValueError(f"sigmoid_cross_entropy: x of shape {x.shape} and t of shape "
                         f"{t.shape} differ")
    return SigmoidCrossEntropy(t.astype(x.dtype, copy=False))(x)
