"""The graph: Variable, Function, the backward engine and the grad mode."""

from chainrule.core.engine import grad
from chainrule.core.function import Function
from chainrule.core.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.core.variable import Variable, as_array, as_variable

__all__ = [
    "Function",
    "Variable",
    "as_array",
    "as_variable",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
