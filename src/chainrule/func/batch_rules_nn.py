"""Batching rules of the operations in chainrule.functions (see batch_rules.py for the kinds).

Image and sequence ops take a batch of their own (N): a vmapped batch is folded into it,
(B, N, ...) -> (B·N, ...), one call, and unfolded after. Losses that reduce over all of a
sample run unreduced on the whole batch and are reduced per sample. Where a sample's weight
is itself batched (a per-sample kernel of a convolution, per-sample recurrent weights), the
op runs once per sample (``loop``), as it would without a rule.
"""

import numpy as np

from chainrule.core import indexing, ops, scalar_ops
from chainrule.func.batch_rules import (
    along_axis,
    batched_matmul,
    elementwise,
    pad,
    padded,
    shifted,
    together,
)
from chainrule.func.batching import logical_ndim, loop, rule
from chainrule.functions import (
    activation,
    linalg,
    loss,
    loss_binary,
    loss_regression,
    math,
    noise,
    norm,
    pool,
    reduction,
    shape,
)
from chainrule.functions.conv import Conv2d, Conv2dGradW, ConvTranspose2d
from chainrule.functions.embedding import Embedding
from chainrule.functions.im2col import Col2im, Im2col
from chainrule.functions.recurrence import Recurrence

rule(activation.LeakyReLU, activation.LeakyReluGrad, activation.GELU, activation.SiLU,
     activation.ELU, activation.Softplus, activation.Hardtanh, math.Square, math.Sin, math.Cos,
     math.Tan, noise.Dropout, reduction.RootOfSquares, loss_regression.Huber)(elementwise)
rule(reduction.LogSumExp, reduction.Cumsum, linalg.PNorm)(along_axis)


@rule(loss_binary.BinaryCrossEntropy, loss_binary.SigmoidCrossEntropy)
def with_target(batch, function, inputs, batched):
    """An elementwise loss whose target is a setting: aligned with x as a constant operand."""
    (x,) = inputs
    rank = max(np.ndim(function.t), np.ndim(getattr(function, "pos_weight", None) or 0))
    return function(pad(x, True, rank))


# ---- joining and cutting ---------------------------------------------------------------------
@rule(shape.Concat, shape.Stack)
def join(batch, function, inputs, batched):
    xs = together(batch, inputs, batched)
    ndim = logical_ndim(xs[0], True) + isinstance(function, shape.Stack)
    function.axis = function.axis % ndim + 1
    return function(*xs)


@rule(shape.Split)
def split(batch, function, inputs, batched):
    function.axis = shifted(function.axis, logical_ndim(inputs[0], True))
    return function(*inputs)


@rule(shape.ConstantPad)
def constant_pad(batch, function, inputs, batched):
    function.widths = [(0, 0)] + list(function.widths)
    return function(*inputs)


@rule(Embedding)
def embed(batch, function, inputs, batched):
    """W[ids] per sample: W (B, num, dim) picked at ids, with each row's sample index."""
    (W,) = inputs
    ids = np.asarray(function.ids)
    rows = np.arange(batch.size).reshape((-1,) + (1,) * ids.ndim)
    return indexing.GetItem((rows, ids[None]))(W)


# ---- linear algebra ------------------------------------------------------------------------------
@rule(linalg.Linear)
def linear(batch, function, inputs, batched):
    """Unbatched weights: the batch is more rows of x, one GEMM; batched weights (per-sample
    gradients): one batched matmul."""
    if not any(batched[1:]):
        return function(*inputs)
    if not batched[0] and not batched[1]:  # a bias per sample alone
        return ops.Add()(*padded([linalg.Linear()(*inputs[:2]), inputs[2]], [False, True]))
    y = batched_matmul(inputs[:2], batched[:2])
    if len(inputs) == 3:
        y = ops.Add()(*padded([y, inputs[2]], [batched[0] or batched[1], batched[2]]))
    return y


@rule(linalg.Einsum)
def einsum(batch, function, inputs, batched):
    letter = next(a for a in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
                  if a not in function.equation)
    function.subscripts = [letter + s if b else s for s, b in zip(function.subscripts, batched)]
    function.output = letter + function.output
    return function(*inputs)


@rule(norm.Normalize)
def normalize(batch, function, inputs, batched):
    """Statistics over a sample's axes, one up; γ and β either shared or per sample."""
    x, gamma, beta = inputs
    ndim = logical_ndim(x, batched[0])
    if not batched[0]:
        x = batch.expand(x)
    function.axes = shifted(function.axes, ndim)
    if batched[1] or batched[2]:
        gamma, beta = together(batch, [gamma, beta], batched[1:])
        shape = tuple(function.param_shape)
        function.param_shape = (batch.size,) + (1,) * (ndim - len(shape)) + shape
        function.param_axes = shifted(function.param_axes, ndim)
    else:
        function.param_axes = (0,) + shifted(function.param_axes, ndim)
    return function(x, gamma, beta)


# ---- losses that reduce a whole sample ----------------------------------------------------------
@rule(loss_regression.SquaredError)
def squared_error(batch, function, inputs, batched):
    d = ops.Sub()(*padded(inputs, batched))
    d = ops.broadcast_to(d, (batch.size,) + d._data.shape[1:])
    total = ops.Sum(tuple(range(1, d._data.ndim)))(ops.Mul()(d, d))
    n = int(np.prod(d._data.shape[1:]))
    return scalar_ops.DivScalar(float(n))(total) if function.mean and n else total


@rule(loss.ClassLoss)
def class_loss(batch, function, inputs, batched):
    """Cross entropy of x (N, C, ...) per sample: the batch folded into N, unreduced, then
    summed per sample and divided by the one divisor every sample shares."""
    (x,) = inputs
    folded = fold(x)
    coeff = np.broadcast_to(function.coeff, x._data.shape).reshape(folded._data.shape)
    per_row = loss.ClassLoss(function.name, coeff, 1, function.unit_rows, False,
                             function.on_logits)(folded)
    per_row = ops.reshape(per_row, (batch.size, -1))
    if not function.reduce:
        return ops.reshape(per_row, x._data.shape[:2] + x._data.shape[3:])
    total = ops.Sum(1)(per_row)
    return scalar_ops.DivScalar(float(function.divisor))(total) if function.divisor != 1 else total


# ---- images and sequences: the batch folded into N -----------------------------------------------
def fold(x):
    shape = x._data.shape
    return ops.reshape(x, (shape[0] * shape[1],) + shape[2:])


def unfold(y, size):
    if type(y) is tuple:
        return tuple(unfold(z, size) for z in y)
    shape = y._data.shape
    return ops.reshape(y, (size, shape[0] // size) + shape[1:])


@rule(Conv2d, ConvTranspose2d)
def convolution(batch, function, inputs, batched):
    if any(batched[1:]):  # a kernel per sample
        return loop(batch, function, inputs, batched, "a kernel per sample")
    return unfold(function(fold(inputs[0]), *inputs[1:]), batch.size)


@rule(pool._Pool, pool.MaxPool2dGrad, pool.MaxPool2dGather,
      pool.AvgPool2dGrad, Im2col)
def image(batch, function, inputs, batched):
    (x,) = inputs
    return unfold(function(fold(x)), batch.size)


@rule(Col2im)
def col2im(batch, function, inputs, batched):
    (col,) = inputs
    n = function.shape[0]
    function.shape = (batch.size * n,) + function.shape[1:]
    if function.to_matrix:  # rows (n, i, j) of every sample, one after another
        y = function(ops.reshape(col, (-1, col._data.shape[-1])))
    else:
        y = function(fold(col))
    return unfold(y, batch.size)


@rule(Conv2dGradW)
def conv_grad_w(batch, function, inputs, batched):
    """A gradient of the kernel, one per sample: summed over N within each sample only."""
    function.col = None  # the saved columns were the whole batch's
    return loop(batch, function, inputs, batched, "a kernel gradient per sample")


@rule(Recurrence)
def recurrence(batch, function, inputs, batched):
    """Shared weights: the batch is more sequences (N). Per-sample weights: one per sample.
    xw is (T, N, G) (time_axis 0), (N, T, G) (time_axis 1) or (N, G) (one step); states (N, H)."""
    if any(batched[1:3]):
        return loop(batch, function, inputs, batched, "recurrent weights per sample")
    if getattr(function, "ids", None) is not None:  # lstm's table read through ids
        return loop(batch, function, inputs, batched, "a table read through ids")
    xw, W_h, b_h = inputs[:3]
    xw = xw if batched[0] else batch.expand(xw)
    states = [fold(s if b else batch.expand(s)) for s, b in zip(inputs[3:], batched[3:])]
    size, shape = batch.size, xw._data.shape
    time_major = len(shape) == 4 and function.time_axis == 0
    if time_major:  # (B, T, N, G) -> (T, B·N, G)
        folded = ops.reshape(ops.transpose(xw, (1, 0, 2, 3)),
                             (shape[1], size * shape[2], shape[3]))
    else:
        folded = fold(xw)
    outputs = function(folded, W_h, b_h, *states)
    outputs = outputs if type(outputs) is tuple else (outputs,)
    results = []
    for y in outputs:
        if time_major and y._data.ndim == 3:  # (T, B·N, H) -> (B, T, N, H)
            t, rows, h = y._data.shape
            y = ops.transpose(ops.reshape(y, (t, size, rows // size, h)), (1, 0, 2, 3))
        else:
            y = unfold(y, size)
        results.append(y)
    return tuple(results) if len(results) > 1 else results[0]
