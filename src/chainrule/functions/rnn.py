"""Recurrences: a whole Elman RNN, LSTM or GRU sequence (or one step) as a single Function.

Each step's input projection ``xw = x W_x + b_x`` is computed beforehand, one matmul over
all steps (``F.linear``); what is left is the loop, where each step needs the one before:

    rnn:   h' = act(xw_t + h W_h + b_h)                             act: tanh or relu
    lstm:  [i f g o] = xw_t + h W_h + b_h                           (PyTorch's gate order)
           c' = σ(f) c + σ(i) tanh(g),   h' = σ(o) tanh(c')
    gru:   [r z] = σ(xw_t[r z] + (h W_h + b_h)[r z])                (PyTorch's r, z, n)
           n = tanh(xw_t[n] + r (h W_h + b_h)[n]),   h' = (1 - z) n + z h

The loop runs on arrays: a step costs one matmul and a dozen NumPy calls instead of a
dozen recorded operations with their backward (on bench/lstm_step.py the step went from
about 5x PyTorch's time to under it; figures in bench/README.md). A plain backward runs
backpropagation through time on arrays as well, and gets W_h's gradient in one matmul over
all steps. Under ``create_graph`` the backward instead recomputes the sequence with
chainrule operations and differentiates that, so gradients of gradients stay exact.

Shapes: xw (T, N, G·H), or (N, T, G·H) with ``time_axis=1``, or (N, G·H) for one step;
W_h (H, G·H); b_h (G·H,); h, c (N, H); G = 1, 4, 3 for rnn, lstm, gru. A sequence gives
``(hs, h_T)`` or ``(hs, h_T, c_T)``, hs holding every h_t in xw's layout; one step gives
``h'`` or ``(h', c')``. ``reverse=True`` runs from the last step to the first.
"""

from chainrule.backend import get_array_module
from chainrule.core import Function, Variable, as_variable, grad, is_grad_enabled
from chainrule.functions.activation import relu, sigmoid
from chainrule.functions.math import tanh
from chainrule.functions.shape import stack


class Recurrence(Function):
    """The loop shared by the three kinds. Inputs (xw, W_h, b_h, h, [c]).

    A subclass gives one step forward (``step``), one step back (``step_back``) and the
    same step in chainrule operations (``recorded_step``); the state a step carries is
    (h,) or (h, c).
    """

    def __init__(self, time_axis=0, reverse=False):
        self.time_axis = time_axis
        self.reverse = reverse

    def order(self, steps):
        return range(steps - 1, -1, -1) if self.reverse else range(steps)

    def time_major(self, array):
        """A (T, N, ...) view of a sequence array in xw's layout; (1, N, ...) for one step."""
        if array.ndim == 2:
            return array[None]
        return get_array_module(array).moveaxis(array, self.time_axis, 0)

    def forward(self, xw, W_h, b_h, *carry):
        xp = get_array_module(xw)
        steps = self.time_major(xw)
        out = xp.empty(xw.shape[:-1] + (W_h.shape[0],), dtype=xw.dtype)
        hs = self.time_major(out)
        self.h_prev = xp.empty_like(hs)  # every step's h_{t-1}: W_h's gradient in one matmul
        self.prepare(steps, b_h)
        for t in self.order(len(steps)):
            self.h_prev[t] = carry[0]
            carry = self.step(t, steps[t], W_h, b_h, carry)
            hs[t] = carry[0]
        return carry if xw.ndim == 2 else (out, *carry)

    def backward(self, *gys):
        if is_grad_enabled():  # create_graph: differentiate a recorded recomputation
            return self.recorded_backward(gys)
        xw, W_h = self.inputs[0].data, self.inputs[1].data
        xp = get_array_module(xw)
        single = xw.ndim == 2
        batch, hidden = self.h_prev.shape[1:]
        ghs = None if single or gys[0] is None else self.time_major(gys[0].data)
        carry = [xp.zeros((batch, hidden), xw.dtype) if g is None else g.data
                 for g in (gys if single else gys[1:])]  # None: an output no longer held
        gxw = xp.empty_like(xw)
        das = self.time_major(gxw)  # the gradient of each step's pre-activation
        dghs = self.hidden_product_grads(das)
        W_hT, order = W_h.T, self.order(len(das))
        for t in reversed(order):
            if ghs is not None:
                carry[0] = carry[0] + ghs[t]
            carry = self.step_back(t, carry, das[t], dghs[t])
            if t != order[0] or self.inputs[3].requires_grad:  # h_0's only if it needs one
                carry[0] = carry[0] + dghs[t] @ W_hT
        gW_h = xp.tensordot(self.h_prev, dghs, axes=((0, 1), (0, 1)))
        return (gxw, gW_h, dghs.sum(axis=(0, 1)), *carry)

    def hidden_product_grads(self, das):
        """Where step_back puts the gradient of h W_h + b_h: xw's own (rnn, lstm)."""
        return das

    def recorded_backward(self, gys):
        """The gradients as a graph: the sequence recomputed with chainrule operations and
        differentiated, so that the result differentiates again."""
        inputs = self.inputs
        wanted = [x for x in inputs if x.requires_grad]
        outputs = self.recompute(*inputs)
        grads = grad(list(outputs), wanted, list(gys), create_graph=True, allow_unused=True)
        found = dict(zip(wanted, grads))
        return tuple(found.get(x) for x in inputs)

    def recompute(self, xw, W_h, b_h, *carry):
        """``forward``'s outputs from the input Variables, with recorded operations."""
        if xw.ndim == 2:
            return self.recorded_step(xw, W_h, b_h, carry)
        index = [slice(None)] * 3
        hs = [None] * xw.shape[self.time_axis]
        for t in self.order(len(hs)):
            index[self.time_axis] = t
            carry = self.recorded_step(xw[tuple(index)], W_h, b_h, carry)
            hs[t] = carry[0]
        return (stack(hs, axis=self.time_axis), *carry)

    def prepare(self, steps, b_h):
        """Allocate what backward reads (T, N, ...) and precompute what each step shares."""


class RNN(Recurrence):
    """h' = act(a), a = xw_t + h W_h + b_h;  da = dh' act'(a), dh = da W_hᵀ"""

    def __init__(self, time_axis=0, reverse=False, nonlinearity="tanh"):
        super().__init__(time_axis, reverse)
        self.nonlinearity = nonlinearity

    def prepare(self, steps, b_h):
        self.hs = steps + b_h  # each step adds h W_h into its row and activates in place

    def step(self, t, xw, W_h, b_h, carry):
        xp = get_array_module(xw)
        a = self.hs[t]
        a += carry[0] @ W_h
        h = xp.tanh(a, out=a) if self.nonlinearity == "tanh" else xp.maximum(a, 0, out=a)
        return (h,)

    def step_back(self, t, carry, da, dgh):
        h = self.hs[t]
        slope = 1 - h * h if self.nonlinearity == "tanh" else h > 0
        get_array_module(h).multiply(carry[0], slope, out=da)
        return [0]

    def recorded_step(self, xw, W_h, b_h, carry):
        a = xw + carry[0] @ W_h + b_h
        return (tanh(a) if self.nonlinearity == "tanh" else relu(a),)


class LSTM(Recurrence):
    """c' = σ(f) c + σ(i) g̃, g̃ = tanh(g), h' = σ(o) tanh(c');  back, with a = [i f g o]:
    dc = dc' + dh' σ(o) (1 - tanh²c'),  da = [dc g̃, dc c, dc σ(i), dh' tanh c'] · act'(a)"""

    def prepare(self, steps, b_h):
        xp = get_array_module(steps)
        H = steps.shape[-1] // 4
        self.gates = steps + b_h  # σ(i) σ(f) tanh(g) σ(o) of every step, filled in place
        self.c_prev = xp.empty(steps.shape[:2] + (H,), dtype=steps.dtype)
        self.tanh_c = xp.empty_like(self.c_prev)
        # Row constants, so each step activates and differentiates all four gates in whole-
        # row calls: σ(a) = tanh(a/2)/2 + 1/2 on i, f, o and tanh(a) on g is tanh(k a) k + s;
        # the derivative σ(1 - σ) or 1 - tanh² is y (m - y) + (1 - m) with m = 1 or 0.
        is_g = xp.zeros(4 * H, dtype=bool)
        is_g[2 * H:3 * H] = True
        self.k = xp.where(is_g, 1, 0.5).astype(steps.dtype)
        self.s = xp.where(is_g, 0, 0.5).astype(steps.dtype)
        self.m = xp.where(is_g, 0, 1).astype(steps.dtype)

    def step(self, t, xw, W_h, b_h, carry):
        h, c = carry
        xp = get_array_module(h)
        H = h.shape[-1]
        gates = self.gates[t]
        gates += h @ W_h
        gates *= self.k
        xp.tanh(gates, out=gates)
        gates *= self.k
        gates += self.s
        self.c_prev[t] = c
        c = gates[:, H:2 * H] * c
        c += gates[:, :H] * gates[:, 2 * H:3 * H]
        tanh_c = xp.tanh(c, out=self.tanh_c[t])
        return gates[:, 3 * H:] * tanh_c, c

    def step_back(self, t, carry, da, dgh):
        xp = get_array_module(da)
        dh, dc = carry
        H = dh.shape[-1]
        y, tanh_c = self.gates[t], self.tanh_c[t]
        dc = dc + dh * y[:, 3 * H:] * (1 - tanh_c * tanh_c)
        xp.multiply(dc, y[:, 2 * H:3 * H], out=da[:, :H])
        xp.multiply(dc, self.c_prev[t], out=da[:, H:2 * H])
        xp.multiply(dc, y[:, :H], out=da[:, 2 * H:3 * H])
        xp.multiply(dh, tanh_c, out=da[:, 3 * H:])
        slope = self.m - y
        slope *= y
        slope += 1 - self.m
        da *= slope
        return [0, dc * y[:, H:2 * H]]

    def recorded_step(self, xw, W_h, b_h, carry):
        h, c = carry
        H = h.shape[-1]
        a = xw + h @ W_h + b_h
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        return o * tanh(c), c


class GRU(Recurrence):
    """u = h W_h + b_h; r, z = σ(xw[r z] + u[r z]); n = tanh(xw[n] + r u[n]); h' = n + z (h - n).
    back: dn = dh' (1 - z), dz = dh' (h - n), dh = dh' z + du W_hᵀ, where da[n] = dn (1 - n²),
    du[n] = da[n] r, da[r] = du[r] = da[n] u[n] σ'(r), da[z] = du[z] = dz σ'(z)"""

    def prepare(self, steps, b_h):
        xp = get_array_module(steps)
        H = steps.shape[-1] // 3
        self.rz = xp.empty(steps.shape[:2] + (2 * H,), dtype=steps.dtype)
        self.n = xp.empty(steps.shape[:2] + (H,), dtype=steps.dtype)
        self.u_n = xp.empty_like(self.n)

    def step(self, t, xw, W_h, b_h, carry):
        (h,) = carry
        xp = get_array_module(h)
        H = h.shape[-1]
        u = h @ W_h
        u += b_h
        rz = xp.add(xw[:, :2 * H], u[:, :2 * H], out=self.rz[t])
        rz *= 0.5  # σ(a) = tanh(a/2)/2 + 1/2: no overflow for any a
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        self.u_n[t] = u[:, 2 * H:]
        n = xp.multiply(rz[:, :H], u[:, 2 * H:], out=self.n[t])
        n += xw[:, 2 * H:]
        xp.tanh(n, out=n)
        return (n + rz[:, H:] * (h - n),)

    def hidden_product_grads(self, das):
        return get_array_module(das).empty_like(das)

    def step_back(self, t, carry, da, du):
        xp = get_array_module(da)
        (dh,) = carry
        H = dh.shape[-1]
        rz, n = self.rz[t], self.n[t]
        r, z = rz[:, :H], rz[:, H:]
        da_n = xp.multiply(dh, 1 - z, out=da[:, 2 * H:])
        da_n *= 1 - n * n
        xp.multiply(da_n, r, out=du[:, 2 * H:])
        xp.multiply(da_n, self.u_n[t], out=da[:, :H])
        xp.multiply(dh, self.h_prev[t] - n, out=da[:, H:2 * H])
        da[:, :2 * H] *= rz * (1 - rz)
        du[:, :2 * H] = da[:, :2 * H]
        return [dh * z]

    def recorded_step(self, xw, W_h, b_h, carry):
        (h,) = carry
        H = h.shape[-1]
        u = h @ W_h + b_h
        r = sigmoid(xw[:, :H] + u[:, :H])
        z = sigmoid(xw[:, H:2 * H] + u[:, H:2 * H])
        n = tanh(xw[:, 2 * H:] + r * u[:, 2 * H:])
        return (n + z * (h - n),)


def _recurrence(kind, function, xw, W_h, b_h, states, time_axis):
    """Check the shapes, fill absent biases and states with zeros, and run ``function``."""
    xw, W_h = as_variable(xw), as_variable(W_h)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    if W_h.ndim != 2 or W_h.shape[1] != gates * W_h.shape[0]:
        raise ValueError(f"{kind}: W_h must be (H, {gates}·H), got shape {W_h.shape}")
    hidden = W_h.shape[0]
    if xw.ndim not in (2, 3) or xw.shape[-1] != gates * hidden or (
            xw.ndim == 3 and time_axis not in (0, 1)):
        raise ValueError(f"{kind}: xw must be (T, N, {gates * hidden}) with time_axis 0, "
                         f"(N, T, {gates * hidden}) with time_axis 1 or (N, {gates * hidden}) "
                         f"for one step, got shape {xw.shape} with time_axis {time_axis}")
    batch = xw.shape[0] if xw.ndim == 2 else xw.shape[1 - time_axis]
    xp = get_array_module(xw.data)
    if b_h is None:
        b_h = xw.constant(xp.zeros(gates * hidden, dtype=xw.dtype))
    b_h = as_variable(b_h)
    if b_h.shape != (gates * hidden,):
        raise ValueError(f"{kind}: b_h must be ({gates * hidden},), got shape {b_h.shape}")
    filled = []
    for name, s in states:
        s = xw.constant(xp.zeros((batch, hidden), dtype=xw.dtype)) if s is None else s
        if not isinstance(s, Variable):
            s = xw.constant(s)
        if s.shape != (batch, hidden):
            raise ValueError(f"{kind}: {name} must be ({batch}, {hidden}) for xw of shape "
                             f"{xw.shape}, got shape {s.shape}")
        filled.append(s)
    return function(xw, W_h, b_h, *filled)


def rnn(xw, W_h, b_h=None, h=None, nonlinearity="tanh", time_axis=0, reverse=False):
    """Elman recurrence h' = act(xw_t + h W_h + b_h) over xw's steps (see the module doc).

    >>> hs, h = rnn(x @ W_x + b_x, W_h, b_h)     # x (T, N, C) -> hs (T, N, H), h (N, H)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    function = RNN(time_axis, reverse, nonlinearity)
    return _recurrence("rnn", function, xw, W_h, b_h, [("h", h)], time_axis)


def lstm(xw, W_h, b_h=None, h=None, c=None, time_axis=0, reverse=False):
    """LSTM recurrence over xw's steps, gates i, f, g, o (see the module doc).

    >>> hs, h, c = lstm(x @ W_x + b_x, W_h, b_h)  # x (T, N, C) -> hs (T, N, H), h, c (N, H)
    """
    function = LSTM(time_axis, reverse)
    return _recurrence("lstm", function, xw, W_h, b_h, [("h", h), ("c", c)], time_axis)


def gru(xw, W_h, b_h=None, h=None, time_axis=0, reverse=False):
    """GRU recurrence over xw's steps, gates r, z, n as PyTorch's (see the module doc).

    >>> hs, h = gru(x @ W_x + b_x, W_h, b_h)      # x (T, N, C) -> hs (T, N, H), h (N, H)
    """
    function = GRU(time_axis, reverse)
    return _recurrence("gru", function, xw, W_h, b_h, [("h", h)], time_axis)
