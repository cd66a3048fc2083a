"""AdaDelta: steps scaled by the ratio of running RMS of updates to running RMS of gradients."""

from chainrule.backend import get_array_module
from chainrule.optim.optimizer import Optimizer, require


class AdaDelta(Optimizer):
    r"""AdaDelta (Zeiler, 2012), PyTorch's ``Adadelta`` rule and defaults.

    Each step, for a parameter ``p`` with gradient ``g``::

        g <- g + weight_decay * p
        v <- rho * v + (1 - rho) * g * g                   v starts at 0
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * d * d                   u starts at 0
        p <- p - lr * d

    State: ``step``, ``square_avg`` (``v``) and ``acc_delta`` (``u``).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def check(self, group):
        super().check(group)
        require(0 <= group["rho"] <= 1, "rho value", group["rho"])
        require(group["eps"] >= 0, "epsilon value", group["eps"])

    def update(self, param, grad, state, group):
        xp = get_array_module(param)
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = xp.sqrt(acc_delta + eps)
        delta /= xp.sqrt(square_avg + eps)
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        param -= group["lr"] * delta
