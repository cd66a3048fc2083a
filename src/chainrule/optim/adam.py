"""Adam and AdamW: steps from bias-corrected running moments of the gradient."""

from chainrule.backend import get_array_module
from chainrule.optim.optimizer import Optimizer, require


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015), PyTorch's rule and defaults; L2 weight decay.

    Step ``t = 1, 2, ...`` of a parameter ``p`` with gradient ``g``::

        g <- g + weight_decay * p
        m <- m + (1 - beta1) * (g - m)                 m, v start at 0
        v <- beta2 * v + (1 - beta2) * g * g
        v_hat <- max(v_hat, v)  if amsgrad, else  v_hat = v
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    State: ``step`` (``t``), ``exp_avg`` (``m``), ``exp_avg_sq`` (``v``) and, with
    amsgrad, ``max_exp_avg_sq``.

    >>> opt = Adam(model.parameters(), lr=1e-3)
    """

    decoupled = False  # AdamW decays the parameter itself instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad}
        super().__init__(params, defaults)

    def check(self, group):
        super().check(group)
        require(group["eps"] >= 0, "epsilon value", group["eps"])
        beta1, beta2 = group["betas"]
        require(0 <= beta1 < 1, "beta parameter at index 0", beta1)
        require(0 <= beta2 < 1, "beta parameter at index 1", beta2)

    def update(self, param, grad, state, group):
        xp = get_array_module(param)
        lr, weight_decay, (beta1, beta2) = group["lr"], group["weight_decay"], group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if weight_decay != 0:
            if self.decoupled:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        denom = xp.sqrt(exp_avg_sq)
        denom /= (1 - beta2**step) ** 0.5
        denom += group["eps"]
        param -= lr / (1 - beta1**step) * (exp_avg / denom)


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay.

    The parameter decays before the Adam step, instead of adding to the gradient::

        p <- p * (1 - lr * weight_decay)
        then Adam's step with weight_decay = 0

    Defaults as PyTorch's: ``weight_decay=0.01``.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
