"""chainrule: a deep-learning framework built on the computational graph and the chain rule."""

from chainrule.core import (
    Function,
    Variable,
    as_array,
    as_variable,
    detect_anomaly,
    enable_grad,
    grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from chainrule.core import forward as forward_ad
from chainrule.func.checkpoint import checkpoint
from chainrule.gradcheck import GradcheckError, gradcheck, jvpcheck, numerical_grad
from chainrule.nn.parameter import Parameter
from chainrule.serialization import load, save

__version__ = "0.1.0"

__all__ = [
    "Function",
    "GradcheckError",
    "Parameter",
    "Variable",
    "as_array",
    "as_variable",
    "checkpoint",
    "detect_anomaly",
    "enable_grad",
    "forward_ad",
    "grad",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "jvpcheck",
    "load",
    "no_grad",
    "numerical_grad",
    "save",
    "set_detect_anomaly",
    "set_grad_enabled",
]
