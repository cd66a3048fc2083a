"""AdaGrad: per-coordinate learning rates from the sum of squared gradients."""

from chainrule.backend import get_array_module
from chainrule.optim.optimizer import Optimizer, require


class AdaGrad(Optimizer):
    r"""AdaGrad (Duchi et al., 2011), PyTorch's ``Adagrad`` rule and defaults.

    Step ``t = 1, 2, ...`` of a parameter ``p`` with gradient ``g``::

        g <- g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s <- s + g * g                       s starts at initial_accumulator_value
        p <- p - lr_t * g / (sqrt(s) + eps)

    State: ``step`` (``t``) and ``sum`` (``s``), both of ``p``'s shape but ``step``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps}
        super().__init__(params, defaults)

    def check(self, group):
        super().check(group)
        require(group["lr_decay"] >= 0, "lr_decay value", group["lr_decay"])
        require(group["initial_accumulator_value"] >= 0, "initial_accumulator_value value",
                group["initial_accumulator_value"])
        require(group["eps"] >= 0, "epsilon value", group["eps"])

    def update(self, param, grad, state, group):
        xp = get_array_module(param)
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        total += grad * grad
        denom = xp.sqrt(total)
        denom += group["eps"]
        param -= lr * (grad / denom)
