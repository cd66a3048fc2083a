"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from chainrule.backend import get_array_module
from chainrule.optim.optimizer import Optimizer, require


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's rule and defaults).

    Each step, for a parameter ``p`` with gradient ``g`` (arrays of one shape)::

        g <- g + weight_decay * p
        b <- g                                    first step (momentum != 0)
        b <- momentum * b + (1 - dampening) * g   later steps
        g <- g + momentum * b   if nesterov,  else  g <- b
        p <- p - lr * g

    State: ``momentum_buffer`` (``b``) when momentum is used.

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov}
        super().__init__(params, defaults)

    def check(self, group):
        super().check(group)
        require(group["momentum"] >= 0, "momentum value", group["momentum"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def update(self, param, grad, state, group):
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # a new array: the gradient may be shared, or a NumPy scalar when 0-d
                buf = state["momentum_buffer"] = get_array_module(param).array(grad)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad
