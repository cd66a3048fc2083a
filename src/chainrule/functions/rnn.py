"""Recurrences: a whole Elman RNN, LSTM or GRU sequence (or one step) as a single Function.

Each step's input projection ``xw = x W_x + b_x`` is computed beforehand, one matmul over
all steps (``F.linear``); what is left is the loop, where each step needs the one before:

    rnn:   h' = act(xw_t + h W_h + b_h)                             act: tanh or relu
    lstm:  [i f g o] = xw_t + h W_h + b_h                           (PyTorch's gate order)
           c' = σ(f) c + σ(i) tanh(g),   h' = σ(o) tanh(c')
    gru:   [r z] = σ(xw_t[r z] + (h W_h + b_h)[r z])                (PyTorch's r, z, n)
           n = tanh(xw_t[n] + r (h W_h + b_h)[n]),   h' = (1 - z) n + z h

The loop runs on arrays: a step costs one matmul and a dozen NumPy calls instead of a
dozen recorded operations with their backward (bench/lstm_step.py's training step: 60 ms
-> 18 ms of CPU time on one thread; figures in bench/README.md). A plain backward runs
backpropagation through time on arrays as well, and gets W_h's gradient in one matmul over
all steps. Under ``create_graph`` the backward instead recomputes the sequence with
chainrule operations and differentiates that, so gradients of gradients stay exact.
Forward mode runs a tangent recurrence beside the states (``rnn_tangent.py``). An LSTM
over a table's rows at ids (``lstm(table, ..., ids=ids)``, nn.LSTM after an embedding) runs
feature-major instead (``lstm_sequence.py``). The loop itself, shared by all of them, is
``Recurrence`` in ``recurrence.py``; this module holds the three kinds of step.

Shapes: xw (T, N, G·H), or (N, T, G·H) with ``time_axis=1``, or (N, G·H) for one step;
W_h (H, G·H); b_h (G·H,); h, c (N, H); G = 1, 4, 3 for rnn, lstm, gru. A sequence gives
``(hs, h_T)`` or ``(hs, h_T, c_T)``, hs holding every h_t in xw's layout; one step gives
``h'`` or ``(h', c')``. ``reverse=True`` runs from the last step to the first.
"""

from chainrule.backend import get_array_module
from chainrule.functions.activation import relu, sigmoid
from chainrule.functions.math import tanh
from chainrule.functions.recurrence import Recurrence, run_recurrence
from chainrule.functions.rnn_tangent import (
    GRUTangent,
    LSTMTangent,
    RNNTangent,
)


class RNN(RNNTangent, Recurrence):
    """h' = act(a), a = xw_t + h W_h + b_h;  da = dh' act'(a), dh = da W_hᵀ"""

    def __init__(self, time_axis=0, reverse=False, nonlinearity="tanh"):
        super().__init__(time_axis, reverse)
        self.nonlinearity = nonlinearity

    def prepare(self, steps, b_h):
        self.a = self.take("a", get_array_module(steps), steps.shape, steps.dtype)
        get_array_module(steps).add(steps, b_h, out=self.a)  # each step adds h W_h into its row

    def step(self, t, xw, W_h, b_h):
        xp = get_array_module(xw)
        prev, new = self.rows(t)
        a = self.a[t]
        a += self.hs[prev] @ W_h
        if self.nonlinearity == "tanh":
            xp.tanh(a, out=self.hs[new])
        else:
            xp.maximum(a, 0, out=self.hs[new])

    def step_back(self, t, carry, da, dgh):
        xp = get_array_module(da)
        h = self.hs[self.rows(t)[1]]
        if self.nonlinearity == "tanh":
            slope = xp.multiply(h, h, out=da)
            xp.subtract(1, slope, out=slope)
        else:
            slope = h > 0
        xp.multiply(carry[0], slope, out=da)

    def recorded_parts(self, xw, W_h, b_h, carry):
        """The new carry and what the tangent step reads: (h, h'), recorded."""
        a = xw + carry[0] @ W_h + b_h
        h = tanh(a) if self.nonlinearity == "tanh" else relu(a)
        return (h,), (carry[0], h)



class LSTM(LSTMTangent, Recurrence):
    """c' = σ(f) c + σ(i) g̃, g̃ = tanh(g), h' = σ(o) tanh(c');  back, with a = [i f g o]:
    dc = dc' + dh' σ(o) (1 - tanh²c'),  da = [dc g̃, dc c, dc σ(i), dh' tanh c'] · act'(a)"""

    carried = ("h", "c")

    def prepare(self, steps, b_h):
        xp = get_array_module(steps)
        H = steps.shape[-1] // 4
        self.gates = self.take("gates", xp, steps.shape, steps.dtype)
        xp.add(steps, b_h, out=self.gates)  # σ(i) σ(f) tanh(g) σ(o) of every step, in place
        self.tanh_c = self.take("tanh c", xp, (len(steps),) + self.hs.shape[1:], steps.dtype)
        # Row constants, so each step activates and differentiates all four gates in whole-
        # row calls: σ(a) = tanh(a/2)/2 + 1/2 on i, f, o and tanh(a) on g is tanh(k a) k + s;
        # the derivative σ(1 - σ) or 1 - tanh² is y (m - y) + (1 - m) with m = 1 or 0. Rows
        # to broadcast, not whole (N, 4H) blocks: the blocks make each call faster alone but
        # the step slower (no change forward, +3% back: 256 KiB more beside W_h's 256 in the
        # cache). ``work`` and ``narrow`` hold a step's products, so a step makes no array
        # (contiguous both: a product into a (N, H) column slice of a wider array is 3x slower).
        is_g = xp.zeros(4 * H, dtype=bool)
        is_g[2 * H:3 * H] = True
        self.k = xp.where(is_g, 1, 0.5).astype(steps.dtype)
        self.s = xp.where(is_g, 0, 0.5).astype(steps.dtype)
        self.m = xp.where(is_g, 0, 1).astype(steps.dtype)
        self.one_minus_m = 1 - self.m
        self.work = xp.empty(steps.shape[1:], steps.dtype)
        self.narrow = xp.empty(self.hs.shape[1:], steps.dtype)

    def step(self, t, xw, W_h, b_h):
        xp = get_array_module(xw)
        prev, new = self.rows(t)
        H = self.hs.shape[-1]
        y, work = self.gates[t], self.work
        y += xp.matmul(self.hs[prev], W_h, out=work)
        y *= self.k
        xp.tanh(y, out=y)
        y *= self.k
        y += self.s
        c = xp.multiply(y[:, H:2 * H], self.cs[prev], out=self.cs[new])
        c += xp.multiply(y[:, :H], y[:, 2 * H:3 * H], out=self.narrow)
        xp.multiply(y[:, 3 * H:], xp.tanh(c, out=self.tanh_c[t]), out=self.hs[new])

    def step_back(self, t, carry, da, dgh):
        xp = get_array_module(da)
        dh, dc = carry
        H = dh.shape[-1]
        y, tanh_c, slope = self.gates[t], self.tanh_c[t], self.work
        through = xp.multiply(tanh_c, tanh_c, out=self.narrow)
        xp.subtract(1, through, out=through)
        through *= y[:, 3 * H:]
        through *= dh
        dc += through
        xp.multiply(dc, y[:, 2 * H:3 * H], out=da[:, :H])
        xp.multiply(dc, self.cs[self.rows(t)[0]], out=da[:, H:2 * H])
        xp.multiply(dc, y[:, :H], out=da[:, 2 * H:3 * H])
        xp.multiply(dh, tanh_c, out=da[:, 3 * H:])
        xp.subtract(self.m, y, out=slope)
        slope *= y
        slope += self.one_minus_m
        da *= slope
        dc *= y[:, H:2 * H]

    def recorded_parts(self, xw, W_h, b_h, carry):
        """The new carry and (h, c, σ(i), σ(f), tanh(g), σ(o), tanh(c')), recorded."""
        h, c = carry
        H = h.shape[-1]
        a = xw + h @ W_h + b_h
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c_new = f * c + i * g
        tanh_c = tanh(c_new)
        return (o * tanh_c, c_new), (h, c, i, f, g, o, tanh_c)



class GRU(GRUTangent, Recurrence):
    """u = h W_h + b_h; r, z = σ(xw[r z] + u[r z]); n = tanh(xw[n] + r u[n]); h' = n + z (h - n).
    back: dn = dh' (1 - z), dz = dh' (h - n), dh = dh' z + du W_hᵀ, where da[n] = dn (1 - n²),
    du[n] = da[n] r, da[r] = du[r] = da[n] u[n] σ'(r), da[z] = du[z] = dz σ'(z)"""

    def prepare(self, steps, b_h):
        xp = get_array_module(steps)
        H = steps.shape[-1] // 3
        self.u = self.take("u", xp, steps.shape, steps.dtype)  # h W_h + b_h of every step
        self.rz = self.take("rz", xp, steps.shape[:2] + (2 * H,), steps.dtype)
        self.n = self.take("n", xp, steps.shape[:2] + (H,), steps.dtype)

    def step(self, t, xw, W_h, b_h):
        xp = get_array_module(xw)
        prev, new = self.rows(t)
        h = self.hs[prev]
        H = h.shape[-1]
        u = xp.matmul(h, W_h, out=self.u[t])
        u += b_h
        rz = xp.add(xw[:, :2 * H], u[:, :2 * H], out=self.rz[t])
        rz *= 0.5  # σ(a) = tanh(a/2)/2 + 1/2: no overflow for any a
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        n = xp.multiply(rz[:, :H], u[:, 2 * H:], out=self.n[t])
        n += xw[:, 2 * H:]
        xp.tanh(n, out=n)
        step = h - n
        step *= rz[:, H:]
        xp.add(n, step, out=self.hs[new])

    def hidden_product_grads(self, das):
        return self.take("du", get_array_module(das), das.shape, das.dtype)

    def step_back(self, t, carry, da, du):
        xp = get_array_module(da)
        (dh,) = carry
        H = dh.shape[-1]
        rz, n = self.rz[t], self.n[t]
        r, z = rz[:, :H], rz[:, H:]
        da_n = xp.multiply(dh, 1 - z, out=da[:, 2 * H:])
        da_n *= 1 - n * n
        xp.multiply(da_n, r, out=du[:, 2 * H:])
        xp.multiply(da_n, self.u[t, :, 2 * H:], out=da[:, :H])
        xp.multiply(dh, self.hs[self.rows(t)[0]] - n, out=da[:, H:2 * H])
        da[:, :2 * H] *= rz * (1 - rz)
        du[:, :2 * H] = da[:, :2 * H]
        return dh * z

    def recorded_parts(self, xw, W_h, b_h, carry):
        """The new carry and (h, u, r, z, n), recorded."""
        (h,) = carry
        H = h.shape[-1]
        u = h @ W_h + b_h
        r = sigmoid(xw[:, :H] + u[:, :H])
        z = sigmoid(xw[:, H:2 * H] + u[:, H:2 * H])
        n = tanh(xw[:, 2 * H:] + r * u[:, 2 * H:])
        return (n + z * (h - n),), (h, u, r, z, n)



def rnn(xw, W_h, b_h=None, h=None, nonlinearity="tanh", time_axis=0, reverse=False):
    """Elman recurrence h' = act(xw_t + h W_h + b_h) over xw's steps (see the module doc).

    >>> hs, h = rnn(x @ W_x + b_x, W_h, b_h)     # x (T, N, C) -> hs (T, N, H), h (N, H)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    function = RNN(time_axis, reverse, nonlinearity)
    return run_recurrence("rnn", function, xw, W_h, b_h, [("h", h)], time_axis)


def gru(xw, W_h, b_h=None, h=None, time_axis=0, reverse=False):
    """GRU recurrence over xw's steps, gates r, z, n as PyTorch's (see the module doc).

    >>> hs, h = gru(x @ W_x + b_x, W_h, b_h)      # x (T, N, C) -> hs (T, N, H), h (N, H)
    """
    function = GRU(time_axis, reverse)
    return run_recurrence("gru", function, xw, W_h, b_h, [("h", h)], time_axis)
