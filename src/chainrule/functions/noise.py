"""Noise: dropout.

The mask comes from ``xp.random`` (NumPy's global generator on the CPU), so
``np.random.seed`` makes a run repeatable. Training mode is an argument, never
a global: modules pass their own ``training`` flag.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, as_variable


class Dropout(Function):
    """y = x · m / (1 - p), m ~ Bernoulli(1 - p) per element (inverted dropout);
    gx = gy · m / (1 - p), the same mask"""

    keeps_outputs = False

    def __init__(self, p):
        self.p = p
        self.mask = None

    def forward(self, x):
        xp = get_array_module(x)
        mask = (xp.random.random_sample(x.shape) >= self.p).astype(x.dtype)
        if self.p < 1:
            mask *= 1 / (1 - self.p)  # in place: the mask keeps x's dtype
        self.mask = mask
        return x * mask

    def backward(self, gy):
        return gy * self.mask

    def jvp(self, tx):
        return tx * self.mask  # the mask this call drew: the tangent sees the same noise


def dropout(x, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1 - p) in training;
    the identity in evaluation (``training=False``) or when p = 0.

    >>> np.random.seed(0); dropout(Variable(np.ones(4)), p=0.5)
    variable([2., 2., 2., 2.])
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    x = as_variable(x)
    if not training or p == 0:
        return x
    return Dropout(p)(x)
