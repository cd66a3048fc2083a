"""MultiheadAttention: several scaled dot-product attentions side by side, as in PyTorch."""

import math

import numpy as np

import chainrule.functions as F
from chainrule.backend import get_array_module
from chainrule.core import Variable
from chainrule.nn import init
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module, positive_int
from chainrule.nn.parameter import Parameter


class MultiheadAttention(Module):
    """out = concat_h(softmax(Q_h K_hᵀ / √d + mask) V_h) W_out + b_out

    with Q = query W_q + b_q, K = key W_k + b_k, V = value W_v + b_v split into
    ``num_heads`` heads of d = embed_dim / num_heads features.

    query (L, N, E), key (S, N, kdim), value (S, N, vdim); (N, L, E) ... when
    ``batch_first``; (L, E) ... unbatched -> (out like query, weights (N, L, S) averaged
    over heads, or (N, heads, L, S), or None when ``need_weights=False``).

    Parameters in chainrule's (in, out) layout: ``W_in`` (E, 3E) and ``b_in`` (3E,) hold
    [W_q W_k W_v] side by side (PyTorch's ``in_proj_weight`` is W_inᵀ); when kdim or vdim
    differ from E they are ``W_q`` (E, E), ``W_k`` (kdim, E), ``W_v`` (vdim, E).
    ``out_proj`` is a Linear(E, E). Masks, where True (bool) or the value (float, added):
    ``attn_mask`` (L, S) or (N·heads, L, S) and ``key_padding_mask`` (N, S) hide keys;
    ``is_causal`` alone builds the causal mask (PyTorch asks for the mask with it).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False,
                 dtype=np.float32):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                             "supported")
        self.embed_dim = positive_int("MultiheadAttention", "embed_dim", embed_dim)
        self.num_heads = positive_int("MultiheadAttention", "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        self.kdim = embed_dim if kdim is None else positive_int("MultiheadAttention", "kdim", kdim)
        self.vdim = embed_dim if vdim is None else positive_int("MultiheadAttention", "vdim", vdim)
        self.dropout = dropout
        self.batch_first = batch_first
        e = embed_dim
        if self.kdim == e and self.vdim == e:
            self.W_in = init.xavier_uniform_(Parameter(np.zeros((e, 3 * e)), dtype=dtype))
        else:
            for name, rows in (("W_q", e), ("W_k", self.kdim), ("W_v", self.vdim)):
                setattr(self, name, init.xavier_uniform_(Parameter(np.zeros((rows, e)),
                                                                   dtype=dtype)))
        self.b_in = Parameter(np.zeros(3 * e), dtype=dtype) if bias else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        batched = query.ndim == 3
        q, k, v = (self._batch_major(x, batched) for x in (query, key, value))
        q, k, v = self._project(q, k, v, query is key and key is value)
        n, length, e = q.shape
        heads, d = self.num_heads, e // self.num_heads
        q, k, v = (F.transpose(F.reshape(x, (n, x.shape[1], heads, d)), (0, 2, 1, 3))
                   for x in (q, k, v))
        mask = self._mask(attn_mask, key_padding_mask, is_causal, n, length, k.shape[2],
                          q.dtype, get_array_module(q.data))
        scores = F.matmul(q * (1.0 / math.sqrt(d)), F.transpose(k, (0, 1, 3, 2)))
        if mask is not None:
            scores = scores + mask
        weights = F.softmax(scores, axis=-1)
        if self.dropout:
            weights = F.dropout(weights, self.dropout, training=self.training)
        out = F.reshape(F.transpose(F.matmul(weights, v), (0, 2, 1, 3)), (n, length, e))
        out = self.out_proj(out)
        out = out if self.batch_first else F.transpose(out, (1, 0, 2))
        if not batched:
            out = out[:, 0] if not self.batch_first else out[0]
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = F.mean(weights, axis=1)
        return out, (weights if batched else weights[0])

    def _batch_major(self, x, batched):
        """x as (N, L, features): from (L, N, ·) unless batch_first, or unbatched (L, ·)."""
        if x.ndim != (3 if batched else 2):
            raise ValueError(f"MultiheadAttention: query, key and value must all be 3-D "
                             f"(batched) or all 2-D, got a {x.ndim}-D one of shape "
                             f"{tuple(x.shape)}")
        if not batched:
            return F.expand_dims(x, 0)
        return x if self.batch_first else F.transpose(x, (1, 0, 2))

    def _project(self, q, k, v, self_attention):
        """Q, K, V from the packed W_in (one matmul for self-attention) or W_q, W_k, W_v."""
        e = self.embed_dim
        b = self.b_in
        if "W_in" not in self._parameters:
            biases = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
            return tuple(F.linear(x, W, bias) for x, W, bias in
                         zip((q, k, v), (self.W_q, self.W_k, self.W_v), biases))
        if self_attention:
            qkv = F.linear(q, self.W_in, b)
            return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
        W = self.W_in
        biases = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return tuple(F.linear(x, W[:, i * e:(i + 1) * e], biases[i])
                     for i, x in enumerate((q, k, v)))

    def _mask(self, attn_mask, key_padding_mask, is_causal, n, length, source, dtype, xp):
        """One additive mask (·, ·, L, S) of 0 and -inf (or the floats given), or None."""
        masks = []
        if attn_mask is None and is_causal:
            attn_mask = xp.triu(xp.ones((length, source), dtype=bool), k=1)
        if attn_mask is not None:
            mask = _additive("attn_mask", attn_mask, dtype, xp)
            if mask.shape == (length, source):
                masks.append(mask)
            elif mask.shape == (n * self.num_heads, length, source):
                masks.append(mask.reshape(n, self.num_heads, length, source))
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must be ({length}, {source}) "
                                 f"or ({n * self.num_heads}, {length}, {source}), got "
                                 f"{tuple(mask.shape)}")
        if key_padding_mask is not None:
            mask = _additive("key_padding_mask", key_padding_mask, dtype, xp)
            if mask.shape != (n, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be ({n}, {source})"
                                 f", got {tuple(mask.shape)}")
            masks.append(mask[:, None, None, :])
        if not masks:
            return None
        return masks[0] if len(masks) == 1 else masks[0] + masks[1]

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


def _additive(name, mask, dtype, xp):
    """A mask as numbers to add: True (hidden) -> -inf, False -> 0; floats as they are."""
    mask = xp.asarray(mask.data if isinstance(mask, Variable) else mask)
    if mask.dtype == bool:
        return xp.where(mask, -np.inf, 0.0).astype(dtype)
    if mask.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {name} must be bool or float, got {mask.dtype}")
    return mask.astype(dtype, copy=False)
