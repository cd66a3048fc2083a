"""Dropout: random zeroing while training, the identity in eval mode."""

import chainrule.functions as F
from chainrule.nn.module import Module


class Dropout(Module):
    """y = x * mask / (1 - p) while ``training``, mask ~ Bernoulli(1 - p); y = x in eval mode.

    The module's ``training`` flag goes to ``F.dropout`` as an argument: ``model.eval()``
    switches it off. The mask comes from ``xp.random``, so ``np.random.seed`` repeats it.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self):
        return f"p={self.p}"
