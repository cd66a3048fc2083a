"""Recurrent layers and cells: RNN, LSTM, GRU over sequences; RNNCell, LSTMCell, GRUCell.

Each layer projects every step's input in one matmul, then runs the recurrence as one
Function (``F.rnn``, ``F.lstm``, ``F.gru``): the loop is NumPy, the gradient exact.

**Layout.** chainrule's recurrent layers are batch-first by default, ``batch_first=True``:
x (N, T, C) -> output (N, T, D·H), as every other chainrule layer puts the batch first and
as earlier chainrule code calls ``nn.LSTM(in, hidden)(x)``. PyTorch's default is
``batch_first=False``; pass ``batch_first=False`` for PyTorch's time-major (T, N, C). A
PyTorch model that passes ``batch_first=True`` explicitly means the same thing here.

**States.** h (and c for LSTM) are (L·D, N, H) as in PyTorch, L = num_layers, D = 2 when
bidirectional else 1, rows ordered layer by layer, forward before reverse. A one-layer,
one-direction module also accepts (N, H). Final states are always (L·D, N, H), as PyTorch
returns them, so a ported ``h_n[-1]`` is the last layer's state, never a batch row.

**Parameters and PyTorch names.** Weights are chainrule's (in, out) layout, PyTorch's
transposed; gates are stacked in PyTorch's order (LSTM i, f, g, o; GRU r, z, n), so:

    chainrule            PyTorch              per layer k, suffix "" or "_reverse"
    W_x_l{k}{suffix}     weight_ih_l{k}{suffix}.T     (in, G·H)
    W_h_l{k}{suffix}     weight_hh_l{k}{suffix}.T     (H, G·H)
    b_x_l{k}{suffix}     bias_ih_l{k}{suffix}         (G·H,)
    b_h_l{k}{suffix}     bias_hh_l{k}{suffix}         (G·H,)

and the cells hold ``W_x``, ``W_h``, ``b_x``, ``b_h`` for ``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``. The rule is one substitution of the name's prefix (weight_ih ->
W_x, weight_hh -> W_h, bias_ih -> b_x, bias_hh -> b_h), the weights transposed. G = 1, 4, 3
for RNN, LSTM, GRU; ``in`` is C for layer 0 and D·H above it. All start U(-1/√H, 1/√H).
"""

import math

import numpy as np

import chainrule.functions as F
from chainrule.core import Variable
from chainrule.core.mode import grad_mode
from chainrule.functions.embedding import Embedding as EmbeddingLookup
from chainrule.nn import init
from chainrule.nn.module import Module, positive_int

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_KEYS = ("W_x", "W_h", "b_x", "b_h")


def _nonlinearity(owner, value):
    if value not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {value!r}")
    return value


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: sizes, per-layer parameters and the layer loop."""

    kind = "rnn"
    folds_bias = True  # b_x and b_h add to the same pre-activation (not GRU's b_h[n])

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True,
                 dropout=0.0, bidirectional=False, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        self.num_layers = positive_int(name, "num_layers", num_layers)
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.directions = 2 if self.bidirectional else 1
        width = _GATES[self.kind] * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        for layer in range(self.num_layers):
            fan_in = self.input_size if layer == 0 else self.directions * self.hidden_size
            for suffix in self.suffixes(layer):
                shapes = ((fan_in, width), (self.hidden_size, width), width, width)
                for key, shape in zip(_KEYS if self.bias else _KEYS[:2], shapes):
                    setattr(self, key + suffix, init.uniform_parameter(shape, bound, dtype))

    def suffixes(self, layer):
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    def weights(self, suffix):
        """(W_x, W_h, b_x, b_h) of one layer and direction; the biases None without bias."""
        return tuple(getattr(self, key + suffix, None) for key in _KEYS)

    def forward(self, x, state=None):
        x = self.check_input(x)
        batch = x.shape[0 if self.batch_first else 1]
        carries = self.initial_states(state, batch)
        # The layers run time-major whatever the layout: a batch-first x is read as a
        # (T, N, C) view, so the projection, the recurrence's work arrays, hs and xw's
        # gradient are all one contiguous time-major block and nothing 4H wide is copied
        # between layouts (bench/lstm_step.py: 0.6 ms of layout copies a step, now 0.1 ms
        # for moving the narrow x and output).
        lookup = _embedded(x)
        if self.batch_first:
            x = x if lookup else F.transpose(x, (1, 0, 2))
            lookup = lookup and (lookup[0].T, lookup[1])
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for suffix in self.suffixes(layer):
                W_x, W_h, b_x, b_h = self.weights(suffix)
                ids = None
                if layer == 0 and lookup:  # x = W_e[ids]: x W_x + b_x = (W_e W_x + b_x)[ids]
                    xw, ids = F.linear(lookup[1], W_x, b_x), lookup[0]
                elif self.folds_bias and b_x is not None:
                    # b_x + b_h added once, in the recurrence's copy of xw: no pass of
                    # the linear's own over the (T, N, 4H) projection, one bias gradient
                    xw, b_h = F.linear(x, W_x), b_x + b_h
                else:
                    xw = F.linear(x, W_x, b_x)
                out, *final = self.recurrence(xw, W_h, b_h, carries[len(finals)], 0,
                                              suffix.endswith("reverse"), ids)
                outs.append(out)
                finals.append(final)
            x = outs[0] if len(outs) == 1 else F.concat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        if self.batch_first:
            x = F.transpose(x, (1, 0, 2))
        return x, self.final_states(finals)

    def check_input(self, x):
        if not isinstance(x, Variable):
            x = Variable(np.asarray(x), requires_grad=False)
        layout = "(N, T, C)" if self.batch_first else "(T, N, C)"
        steps = x.shape[1 if self.batch_first else 0] if x.ndim == 3 else 0
        if x.ndim != 3 or steps == 0 or x.shape[2] != self.input_size:
            first = "batch-first" if self.batch_first else "time-major"
            raise ValueError(
                f"{type(self).__name__}: expected a {first} sequence {layout} with C = "
                f"{self.input_size} and T >= 1, got {tuple(x.shape)}"
            )
        return x

    def initial_states(self, state, batch):
        """One tuple of initial states, (h,) or (h, c), per layer and direction."""
        count = self.num_layers * self.directions
        if state is None:
            return [(None,) * self.carried] * count
        parts = state if self.carried == 2 else (state,)
        if self.carried == 2 and (not isinstance(state, (tuple, list)) or len(state) != 2):
            raise TypeError(f"{type(self).__name__}: state must be a pair (h, c)")
        per_part = [self.split_state(s, count, batch) for s in parts]
        return list(zip(*per_part))

    def split_state(self, s, count, batch):
        H, name = self.hidden_size, type(self).__name__
        s = s if isinstance(s, Variable) else Variable(np.asarray(s), requires_grad=False)
        if s.shape == (count, batch, H):
            return [s[i] for i in range(count)] if count > 1 else [s[0]]
        if count == 1 and s.shape == (batch, H):
            return [s]
        expected = f"({count}, {batch}, {H})" + (f" or ({batch}, {H})" if count == 1 else "")
        raise ValueError(f"{name}: initial state must be {expected}, got {tuple(s.shape)}")

    def final_states(self, finals):
        """Each final state as (L·D, N, H), PyTorch's form."""
        states = [F.stack(f, axis=0) for f in zip(*finals)]
        return states[0] if self.carried == 1 else tuple(states)

    def extra_repr(self):
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            parts.append(f"nonlinearity={self.nonlinearity!r}")
        if not self.bias:
            parts.append("bias=False")
        if not self.batch_first:
            parts.append("batch_first=False")
        if self.dropout:
            parts.append(f"dropout={self.dropout:g}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        return ", ".join(parts)


def _data(x):
    return x.data if isinstance(x, Variable) else x


def _embedded(x):
    """(ids, W_e) when x is an embedding's rows W_e[ids] (F.embedding, nn.Embedding) with at
    least as many ids as W_e has rows, else None.

    Then the first layer projects the table instead of its rows: x W_x + b_x is the rows
    ids of W_e W_x + b_x, the same numbers (each a dot product of W_e's row with W_x's
    column) from a (V, C) GEMM instead of an (N·T, C) one, and the gradient is summed per
    id before its GEMMs instead of after. bench/lstm_step.py (1120 ids, V = 64): the
    projection 1.1 -> 0.15 ms forward, its gradient and the embedding's 2.1 -> 0.5 ms (one
    thread). x itself stays what it was; only a gradient of x (retain_grad, a hook, forward
    mode) would be missed, so such an x, or any call under a dispatching mode, goes the
    plain way; so does an x or W_e written in place since the lookup (x would not be
    W_e[ids] any more).
    """
    f = x.creator
    if (type(f) is not EmbeddingLookup or x._hooks is not None or grad_mode.dispatch
            or f.ids.size < f.inputs[0].shape[0]):
        return None
    W_e = f.inputs[0]
    if x._version or W_e._version != f.versions[0]:
        return None
    return f.ids, W_e


class RNN(_Recurrent):
    """Elman RNN: h_t = act(x_t W_x + b_x + h_{t-1} W_h + b_h), act tanh (or relu).

    x (N, T, C) [batch_first] or (T, N, C), h None or (L·D, N, H) or (N, H)
    -> (output (N, T, D·H) or (T, N, D·H): the last layer's h_t, h: the final states).
    """

    kind, carried = "rnn", 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=True, dropout=0.0, bidirectional=False, dtype=np.float32):
        self.nonlinearity = _nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)

    def recurrence(self, xw, W_h, b_h, carry, time_axis, reverse, ids=None):
        xw = xw if ids is None else F.embedding(ids, xw)
        return F.rnn(xw, W_h, b_h, *carry, nonlinearity=self.nonlinearity,
                     time_axis=time_axis, reverse=reverse)


class LSTM(_Recurrent):
    """Long short-term memory, gates i, f, g, o as PyTorch's:

        [i f g o] = x_t W_x + b_x + h_{t-1} W_h + b_h
        c_t = σ(f) c_{t-1} + σ(i) tanh(g),   h_t = σ(o) tanh(c_t)

    x (N, T, C) [batch_first] or (T, N, C), state None or (h, c) each (L·D, N, H) or (N, H)
    -> (output (N, T, D·H) or (T, N, D·H), (h, c): the final states).
    """

    kind, carried = "lstm", 2

    def recurrence(self, xw, W_h, b_h, carry, time_axis, reverse, ids=None):
        # a table's rows at ids go in as the table and the ids: no (T, N, 4H) array
        return F.lstm(xw, W_h, b_h, *carry, time_axis=time_axis, reverse=reverse, ids=ids)


class GRU(_Recurrent):
    """Gated recurrent unit, gates r, z, n as PyTorch's (b_h's n part inside r · (...)):

        r, z = σ(x_t W_x[r z] + b_x[r z] + h_{t-1} W_h[r z] + b_h[r z])
        n = tanh(x_t W_x[n] + b_x[n] + r (h_{t-1} W_h[n] + b_h[n])),  h_t = (1 - z) n + z h_{t-1}

    x (N, T, C) [batch_first] or (T, N, C), h None or (L·D, N, H) or (N, H)
    -> (output (N, T, D·H) or (T, N, D·H), h: the final states).
    """

    kind, carried, folds_bias = "gru", 1, False

    def recurrence(self, xw, W_h, b_h, carry, time_axis, reverse, ids=None):
        xw = xw if ids is None else F.embedding(ids, xw)
        return F.gru(xw, W_h, b_h, *carry, time_axis=time_axis, reverse=reverse)


class _Cell(Module):
    """One step of a recurrence: W_x (C, G·H), W_h (H, G·H), b_x, b_h (G·H,)."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        width = _GATES[self.kind] * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        shapes = ((self.input_size, width), (self.hidden_size, width), width, width)
        for key, shape in zip(_KEYS if self.bias else _KEYS[:2], shapes):
            setattr(self, key, init.uniform_parameter(shape, bound, dtype))

    def project(self, x):
        """x W_x + b_x for x (N, C), or (C,) for one unbatched sample."""
        if not isinstance(x, Variable):
            x = Variable(np.asarray(x), requires_grad=False)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected x (N, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(x.shape)}")
        x = x.reshape(1, -1) if x.ndim == 1 else x
        return F.linear(x, self.W_x, getattr(self, "b_x", None)), x.shape[0]

    def step_state(self, s, batch, unbatched):
        if s is None:
            return None
        s = s if isinstance(s, Variable) else Variable(np.asarray(s), requires_grad=False)
        return s.reshape(1, -1) if unbatched and s.ndim == 1 else s

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text + ("" if self.bias else ", bias=False")


def _unbatch(h, unbatched):
    return h.reshape(h.shape[-1]) if unbatched else h


class RNNCell(_Cell):
    """h' = act(x W_x + b_x + h W_h + b_h): x (N, C) or (C,), h None (zeros) or (N, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 dtype=np.float32):
        self.nonlinearity = _nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, x, h=None):
        unbatched = np.ndim(_data(x)) == 1
        xw, batch = self.project(x)
        h = F.rnn(xw, self.W_h, getattr(self, "b_h", None), self.step_state(h, batch, unbatched),
                  nonlinearity=self.nonlinearity)
        return _unbatch(h, unbatched)


class LSTMCell(_Cell):
    """(h', c') from x (N, C) or (C,) and state None (zeros) or (h, c) each (N, H); gates
    i, f, g, o as in LSTM."""

    kind = "lstm"

    def forward(self, x, state=None):
        unbatched = np.ndim(_data(x)) == 1
        xw, batch = self.project(x)
        h, c = (None, None) if state is None else state
        h, c = F.lstm(xw, self.W_h, getattr(self, "b_h", None),
                      self.step_state(h, batch, unbatched), self.step_state(c, batch, unbatched))
        return _unbatch(h, unbatched), _unbatch(c, unbatched)


class GRUCell(_Cell):
    """h' from x (N, C) or (C,) and h None (zeros) or (N, H); gates r, z, n as in GRU."""

    kind = "gru"

    def forward(self, x, h=None):
        unbatched = np.ndim(_data(x)) == 1
        xw, batch = self.project(x)
        h = F.gru(xw, self.W_h, getattr(self, "b_h", None), self.step_state(h, batch, unbatched))
        return _unbatch(h, unbatched)
