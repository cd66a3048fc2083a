"""Batching rules of the wrappers that turn an argument's values into a setting.

Class-index targets, ids and conditions become arrays a Function keeps (ClassLoss's
coefficients, Embedding's ids, Where's condition), read by the wrapper before any Function
is called; inside vmap such an argument may be a batched Variable. These wrappers are marked
``@batchable`` (core/function.py), and vmap runs the rule here instead: the wrapper itself,
called once on the whole batch (the batch folded into N, the loss left unreduced), and the
result reduced per sample. The rules run with the batch switched off, on physical arrays.
"""

import numpy as np

from chainrule.core import indexing, ops, scalar_ops
from chainrule.core.variable import Variable, as_variable
from chainrule.func.batch_rules import padded
from chainrule.func.batching import arguments, wrapper_rule
from chainrule.functions import loss, loss_binary, shape
from chainrule.functions.embedding import one_hot


def physical(batch, value, sample_shape=None):
    """``value``'s array with the batch in front: a batched Variable's own, or an unbatched
    value repeated for every sample (a view)."""
    if batch.holds(value):
        return value._data
    array = np.asarray(value._data if isinstance(value, Variable) else value)
    if sample_shape is not None:
        array = np.broadcast_to(array, sample_shape)
    return np.broadcast_to(array, (batch.size,) + array.shape)


def batched(batch, x):
    x = as_variable(x)
    return x if batch.holds(x) else batch.expand(x)


def per_sample(batch, losses, reduction, divisor=None):
    """Unreduced losses (B, ...) summed or averaged over each sample."""
    if reduction == "none":
        return losses
    total = ops.Sum(tuple(range(1, losses._data.ndim)))(losses)
    if reduction == "sum":
        return total
    if divisor is None:
        return scalar_ops.DivScalar(float(max(int(np.prod(losses._data.shape[1:])), 1)))(total)
    return ops.Div()(total, total.constant(divisor.astype(total.dtype)))


# ---- class losses ----------------------------------------------------------------------------
@wrapper_rule("cross_entropy", "nll_loss")
def class_loss(batch, wrapper, a):
    """x (B, N, C, ...) and t (B, N, ...) folded into (B·N, C, ...) and (B·N, ...), unreduced;
    "mean" divides each sample's sum by its own count (or total class weight)."""
    x = batched(batch, a["input"])
    t = physical(batch, a["target"])
    if x._data.ndim > 2:  # (B, N, C, ...): fold the batch into N
        a["input"] = ops.reshape(x, (-1,) + x._data.shape[2:])
        a["target"] = t.reshape((-1,) + t.shape[2:])
    else:  # a sample is (C,): the batch is N
        a["input"], a["target"] = x, t
    reduction, a["reduction"] = a["reduction"], "none"
    shape = x._data.shape  # the unreduced losses: x without its class axis
    losses = ops.reshape(wrapper(**a), shape[:2] + shape[3:] if len(shape) > 2 else shape[:1])
    divisor = None
    if reduction == "mean" and t.dtype.kind in "iu":
        keep = t != a.get("ignore_index", -100)
        weight = a["weight"]
        w = np.ones(x._data.shape[-1 if x._data.ndim == 2 else 2]) if weight is None \
            else np.asarray(weight._data if isinstance(weight, Variable) else weight)
        divisor = (w[np.where(keep, t, 0)] * keep).reshape(batch.size, -1).sum(axis=1)
    elif reduction == "mean":  # probability targets: every position counts once
        divisor = np.full(batch.size, losses._data[0].size)
    return per_sample(batch, losses, reduction, divisor)


@wrapper_rule("softmax_cross_entropy")
def softmax_cross_entropy(batch, wrapper, a):
    x, t = as_variable(a["x"]), a["t"]
    if batch.holds(t) and t._data.ndim == x._data.ndim + (not batch.holds(x)):  # one-hot rows
        t = batch.mark(Variable(t._data.astype(x.dtype), requires_grad=False))
    elif not batch.holds(t) and np.ndim(t._data if isinstance(t, Variable) else t) == 2:
        t = np.asarray(t._data if isinstance(t, Variable) else t).astype(x.dtype)
    ce = loss.cross_entropy.__wrapped__
    return class_loss(batch, ce, arguments(ce, (x, t), {}))


# ---- elementwise losses against targets ----------------------------------------------------------
@wrapper_rule("binary_cross_entropy", "binary_cross_entropy_with_logits")
def binary(batch, wrapper, a):
    x = batched(batch, a["input"])
    a["input"] = x
    a["target"] = physical(batch, a["target"], x._data.shape[1:])
    reduction, a["reduction"] = a["reduction"], "none"
    return per_sample(batch, wrapper(**a), reduction)


@wrapper_rule("sigmoid_cross_entropy")
def sigmoid_cross_entropy(batch, wrapper, a):
    bce = loss_binary.binary_cross_entropy_with_logits.__wrapped__
    return binary(batch, bce, arguments(bce, (a["x"], a["t"]), {}))


# ---- settings made of values ---------------------------------------------------------------
@wrapper_rule("where")
def where(batch, wrapper, a):
    """The condition is one more operand: every batched one padded to the largest sample rank."""

    condition = a["condition"]
    condition = condition if batch.holds(condition) else np.asarray(
        condition._data if isinstance(condition, Variable) else condition)
    values = [condition, a["x0"], a["x1"]]
    flags = [batch.holds(v) for v in values]
    values = [v if isinstance(v, Variable) else np.asarray(v) for v in values]
    condition, x0, x1 = padded(values, flags)
    condition = condition._data if isinstance(condition, Variable) else condition
    return shape.where.__wrapped__(condition, x0, x1)


@wrapper_rule("embedding")
def embedding(batch, wrapper, a):
    ids, W = a["ids"], a["W"]
    if not batch.holds(W):
        return wrapper(physical(batch, ids), W)
    ids = physical(batch, ids)
    rows = np.arange(batch.size).reshape((-1,) + (1,) * (ids.ndim - 1))
    return indexing.GetItem((rows, ids))(W)


@wrapper_rule("one_hot")
def one_hot_rule(batch, wrapper, a):
    """Class counts are read from the whole batch when num_classes is -1."""
    return one_hot.__wrapped__(physical(batch, a["t"]), a["num_classes"])


@wrapper_rule("arg")
def arg(batch, wrapper, a):
    """argmax / argmin over a sample's axis (one up), or over each flattened sample."""
    from chainrule.core.reductions import axis_and_keepdims

    x = a["x"]
    data = x._data
    axis, keepdims = axis_and_keepdims("arg" + a["op"], x, a["axis"], a["keepdims"], a["dim"],
                                       a["keepdim"])
    find = getattr(np, "arg" + a["op"])
    if axis is None:
        found = find(data.reshape(batch.size, -1), axis=1)
        found = found.reshape((batch.size,) + (1,) * (data.ndim - 1)) if keepdims else found
    else:
        found = find(data, axis=axis % (data.ndim - 1) + 1, keepdims=keepdims)
    return x._derived(found)


@wrapper_rule("extreme")
def extreme(batch, wrapper, a):
    """max / min over a sample's axis, one up: the values, or PyTorch's (values, indices)."""
    from chainrule.core.reductions import axis_and_keepdims

    x = a["x"]
    ndim = x._data.ndim - 1
    torch_style = a["dim"] is not None or a["keepdim"] is not None
    axis, keepdims = axis_and_keepdims(a["op"], x, a["axis"], a["keepdims"], a["dim"],
                                       a["keepdim"])
    axes = tuple(range(1, ndim + 1)) if axis is None else tuple(
        n % ndim + 1 for n in (axis if isinstance(axis, tuple) else (axis,)))
    if torch_style and len(axes) == 1:
        return wrapper(a["op"], x, dim=axes[0], keepdim=keepdims)
    return wrapper(a["op"], x, axis=axes, keepdims=keepdims)
