"""chainrule: a deep-learning framework built on the computational graph and the chain rule."""

from chainrule.core import (
    Function,
    Variable,
    as_array,
    as_variable,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.gradcheck import GradcheckError, gradcheck, numerical_grad
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
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "load",
    "no_grad",
    "numerical_grad",
    "save",
    "set_grad_enabled",
]
