"""Differentiable operations, one module per family; ``import chainrule.functions as F``.

>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.functions as F
>>> F.tanh(cr.Variable(np.zeros(2)))
variable([0., 0.])
"""

from chainrule.functions.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
)
from chainrule.functions.attention import scaled_dot_product_attention
from chainrule.functions.linalg import (
    cosine_similarity,
    einsum,
    linear,
    matmul,
    normalize,
    vector_norm,
)
from chainrule.functions.loss import cross_entropy, kl_div, nll_loss, softmax_cross_entropy
from chainrule.functions.loss_binary import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    sigmoid_cross_entropy,
)
from chainrule.functions.loss_regression import (
    huber_loss,
    l1_loss,
    mean_squared_error,
    mse_loss,
    smooth_l1_loss,
)
from chainrule.functions.lstm_sequence import lstm
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
from chainrule.functions.reduction import (
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    std,
    sum,
    var,
)
from chainrule.functions.rnn import gru, rnn
from chainrule.functions.shape import (
    broadcast_to,
    cat,
    chunk,
    concat,
    expand_dims,
    flatten,
    get_item,
    pad,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    transpose,
    unsqueeze,
    where,
)

__all__ = [
    "abs",
    "add",
    "argmax",
    "argmin",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "broadcast_to",
    "cat",
    "chunk",
    "clip",
    "concat",
    "cos",
    "cosine_similarity",
    "cross_entropy",
    "cumsum",
    "div",
    "dropout",
    "einsum",
    "elu",
    "exp",
    "expand_dims",
    "flatten",
    "gelu",
    "get_item",
    "gru",
    "hardtanh",
    "huber_loss",
    "kl_div",
    "l1_loss",
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
    "mse_loss",
    "mul",
    "neg",
    "nll_loss",
    "normalize",
    "pad",
    "pow",
    "relu",
    "reshape",
    "rnn",
    "scaled_dot_product_attention",
    "sigmoid",
    "sigmoid_cross_entropy",
    "silu",
    "sin",
    "smooth_l1_loss",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "sum_to",
    "tan",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
    "vector_norm",
    "where",
]

# conv, pool, norm and embedding families are appended below by their owner
from chainrule.functions.conv import conv2d, conv_transpose2d
from chainrule.functions.embedding import embedding, one_hot
from chainrule.functions.im2col import col2im, im2col
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
    "one_hot",
]
