"""Attention: scaled_dot_product_attention, as torch.nn.functional spells it.

Composed of matmul, where, softmax and dropout, so every gradient (of any order)
comes from theirs. A query that may attend to nothing (its whole row masked) gets
zeros, not nan, as torch's does.
"""

import math

from chainrule.backend import get_array_module
from chainrule.core import Variable, as_variable, ops
from chainrule.functions.activation import softmax
from chainrule.functions.noise import dropout
from chainrule.functions.shape import where


def _mask_array(mask, like):
    return get_array_module(like.data).asarray(mask.data if isinstance(mask, Variable) else mask)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """softmax(q kᵀ · scale + mask) v, as torch's, with scale = 1/√E by default.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the
    leading axes broadcast. ``attn_mask`` broadcasts to (..., L, S): a boolean mask keeps
    the scores where it is True, a float mask is added to them (-inf removes one; a float
    Variable that needs a gradient, a learned bias, gets one).
    ``is_causal`` lets query i see keys j ≤ i only. Dropout of ``dropout_p`` is applied to
    the attention weights whenever it is positive, as in torch (pass 0.0 in evaluation).
    """
    q, k, v = as_variable(query), as_variable(key), as_variable(value)
    op = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{op}: query, key and value need at least 2 axes, got shapes "
                         f"{q.shape}, {k.shape} and {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: query {q.shape}, key {k.shape} and value {v.shape} do not "
                         "fit (..., L, E), (..., S, E) and (..., S, Ev)")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass attn_mask or is_causal, not both (as torch)")
    xp = get_array_module(q.data)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = ops.matmul(q, ops.swap_last_axes(k)) * scale
    length, source = q.shape[-2], k.shape[-2]
    if is_causal:
        attn_mask = xp.tril(xp.ones((length, source), dtype=bool))
    if attn_mask is not None:
        mask = _mask_array(attn_mask, q)
        try:
            xp.broadcast_shapes(mask.shape, scores.shape)
        except ValueError:
            raise ValueError(f"{op}: attn_mask of shape {mask.shape} does not broadcast to "
                             f"the scores' shape {scores.shape}") from None
        if mask.dtype == bool:
            scores = where(mask, scores, -math.inf)
        elif isinstance(attn_mask, Variable):  # a learned bias: its gradient flows, as torch's
            scores = scores + attn_mask
        else:
            scores = scores + mask.astype(q.dtype, copy=False)
    # rows with every score at -inf would be 0/0 in softmax: zeros instead, as torch's
    dead = xp.isneginf(scores.data).all(axis=-1, keepdims=True)
    if dead.any():
        weights = where(dead, 0.0, softmax(where(dead, 0.0, scores), axis=-1))
    else:
        weights = softmax(scores, axis=-1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ v
