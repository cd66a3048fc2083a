"""The graph: Variable, Function, the backward engine and the grad mode."""

from chainrule.core.engine import grad
from chainrule.core.function import Function
from chainrule.core.mode import (
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from chainrule.core.variable import Variable, as_array, as_variable

__all__ = [
    "Function",
    "Variable",
    "as_array",
    "as_variable",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]
