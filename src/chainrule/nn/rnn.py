"""Recurrent layers over batch-first sequences (N, T, C): RNN (Elman) and LSTM.

Both project every step's input in one matmul before the loop, so each step costs one
matmul with the hidden state. Gates follow PyTorch's layout, so its weights map over as
``W_x = weight_ih_l0.T``, ``W_h = weight_hh_l0.T``, ``b = bias_ih_l0 + bias_hh_l0``.
"""

import math

import numpy as np

import chainrule.functions as F
from chainrule.nn import init
from chainrule.nn.module import Module, positive_int


class _Recurrent(Module):
    """Shared parts: sizes, and W_x (C, gates·H), W_h (H, gates·H), b (gates·H,)
    drawn U(-1/√H, 1/√H) as in PyTorch."""

    gates = 1

    def __init__(self, input_size, hidden_size, dtype):
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        width = self.gates * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        self.W_x = init.uniform_parameter((self.input_size, width), bound, dtype)
        self.W_h = init.uniform_parameter((self.hidden_size, width), bound, dtype)
        self.b = init.uniform_parameter(width, bound, dtype)

    def project_inputs(self, x):
        """x W_x + b for every step at once: (N, T, C) -> (N, T, gates·H)."""
        if x.ndim != 3 or x.shape[1] == 0 or x.shape[2] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected a batch-first sequence (N, T, "
                f"{self.input_size}) with T >= 1, got {tuple(x.shape)}"
            )
        return F.linear(x, self.W_x, self.b)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class RNN(_Recurrent):
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b), from h_0 (zeros unless given).

    x (N, T, C), h (N, H) or None -> (out (N, T, H): every h_t, h (N, H): the last).
    W_x (C, H), W_h (H, H), b (H,).
    """

    def __init__(self, input_size, hidden_size, dtype=np.float32):
        super().__init__(input_size, hidden_size, dtype)

    def forward(self, x, h=None):
        xw = self.project_inputs(x)
        hs = []
        for t in range(xw.shape[1]):
            # with no initial state, h_0 W_h is zero: skip the matmul
            a = xw[:, t] if h is None else xw[:, t] + F.linear(h, self.W_h)
            h = F.tanh(a)
            hs.append(h)
        return F.stack(hs, axis=1), h


class LSTM(_Recurrent):
    """Long short-term memory, one fused gate matmul per step:

        [i f g o] = x_t W_x + h_{t-1} W_h + b
        c_t = σ(f) c_{t-1} + σ(i) tanh(g),   h_t = σ(o) tanh(c_t)

    x (N, T, C), state (h, c) each (N, H), or None for zeros
    -> (out (N, T, H): every h_t, (h, c): the last).  W_x (C, 4H), W_h (H, 4H), b (4H,).
    """

    gates = 4

    def __init__(self, input_size, hidden_size, dtype=np.float32):
        super().__init__(input_size, hidden_size, dtype)

    def forward(self, x, state=None):
        xw = self.project_inputs(x)
        h, c = (None, None) if state is None else state
        size = self.hidden_size
        hs = []
        for t in range(xw.shape[1]):
            gates = xw[:, t] if h is None else xw[:, t] + F.linear(h, self.W_h)
            i = F.sigmoid(gates[:, :size])
            f = F.sigmoid(gates[:, size:2 * size])
            g = F.tanh(gates[:, 2 * size:3 * size])
            o = F.sigmoid(gates[:, 3 * size:])
            c = i * g if c is None else f * c + i * g
            h = o * F.tanh(c)
            hs.append(h)
        return F.stack(hs, axis=1), (h, c)
