"""Differentiable operations, one module per family; ``import chainrule.functions as F``.

>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.functions as F
>>> F.tanh(cr.Variable(np.zeros(2)))
variable([0., 0.])
"""

from chainrule.functions.activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax
from chainrule.functions.linalg import linear, matmul
from chainrule.functions.loss import (
    mean_squared_error,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)
from chainrule.functions.math import (
    abs,
    add,
    clip,
    cos,
    div,
    exp,
    log,
    mul,
    neg,
    pow,
    sin,
    sqrt,
    square,
    sub,
    tan,
    tanh,
)
from chainrule.functions.noise import dropout
from chainrule.functions.reduction import logsumexp, max, mean, min, sum
from chainrule.functions.rnn import gru, lstm, rnn
from chainrule.functions.shape import (
    broadcast_to,
    concat,
    expand_dims,
    flatten,
    get_item,
    reshape,
    squeeze,
    stack,
    sum_to,
    transpose,
    where,
)

__all__ = [
    "abs",
    "add",
    "broadcast_to",
    "clip",
    "concat",
    "cos",
    "div",
    "dropout",
    "exp",
    "expand_dims",
    "flatten",
    "gelu",
    "get_item",
    "gru",
    "leaky_relu",
    "linear",
    "log",
    "log_softmax",
    "logsumexp",
    "lstm",
    "matmul",
    "max",
    "mean",
    "mean_squared_error",
    "min",
    "mul",
    "neg",
    "pow",
    "relu",
    "reshape",
    "rnn",
    "sigmoid",
    "sigmoid_cross_entropy",
    "sin",
    "softmax",
    "softmax_cross_entropy",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "sum_to",
    "tan",
    "tanh",
    "transpose",
    "where",
]

# conv, pool, norm and embedding families are appended below by their owner
from chainrule.functions.conv import col2im, conv2d, conv_transpose2d, im2col
from chainrule.functions.embedding import embedding
from chainrule.functions.norm import batch_norm, layer_norm
from chainrule.functions.pool import avg_pool2d, max_pool2d

__all__ += [
    "avg_pool2d",
    "batch_norm",
    "col2im",
    "conv2d",
    "conv_transpose2d",
    "embedding",
    "im2col",
    "layer_norm",
    "max_pool2d",
]
