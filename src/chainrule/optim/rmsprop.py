"""RMSprop: gradients divided by a running root mean square of their recent values."""

from chainrule.backend import get_array_module
from chainrule.optim.optimizer import Optimizer, require


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012), PyTorch's rule and defaults.

    Each step, for a parameter ``p`` with gradient ``g``::

        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g * g                 v starts at 0
        m <- m + (1 - alpha) * (g - m)      if centered      m starts at 0
        d = sqrt(v - m * m) + eps   if centered,  else  d = sqrt(v) + eps
        b <- momentum * b + g / d,  p <- p - lr * b    if momentum > 0
        p <- p - lr * g / d                            otherwise

    State: ``step``, ``square_avg`` (``v``), ``grad_avg`` (``m``, when centered),
    ``momentum_buffer`` (``b``, when momentum > 0).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered}
        super().__init__(params, defaults)

    def check(self, group):
        super().check(group)
        require(group["eps"] >= 0, "epsilon value", group["eps"])
        require(group["momentum"] >= 0, "momentum value", group["momentum"])
        require(group["alpha"] >= 0, "alpha value", group["alpha"])

    def update(self, param, grad, state, group):
        xp = get_array_module(param)
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)
            denom = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denom = xp.sqrt(square_avg)
        denom += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / denom
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / denom)
