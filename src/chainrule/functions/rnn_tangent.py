"""Tangent rules of the fused recurrences in ``rnn.py``: a tangent recurrence run beside the
states, one step per step of the loop.

Each step's tangent is linear in the tangents (of xw_t, W_h, b_h and the carried state) with
coefficients from the primal step: its activated gates and states. Those come from the
forward's buffers, or, while recording, from the kind's ``recorded_parts`` (the step in
chainrule operations), so that the tangents differentiate again in reverse mode. The
mixins below give ``Recurrence`` its ``jvp`` and each kind its step; ``rnn.py`` keeps the
loops on arrays.
"""

from chainrule.core import is_grad_enabled
from chainrule.functions.shape import filled, stack
from chainrule.functions.tangent import total


class TangentRecurrence:
    """The loop of the tangent recurrence; a kind gives ``parts`` and ``tangent_step``."""

    def jvp(self, txw, tW_h, tb_h, *tcarry):
        """The tangent recurrence, run beside the states' own: per step, the tangent of the
        hidden product du = dh W_h + h dW_h + db_h, then the kind's ``tangent_step``.

        Its coefficients (each step's gates and states) are the forward's arrays, or, while
        recording, a recorded recomputation's, so that the tangents differentiate again.
        """
        xw, W_h, b_h, *carry = self.inputs
        tcarry = filled(carry, tcarry)  # zeros for a state without a tangent
        recording = is_grad_enabled() and any(x.requires_grad for x in self.inputs)
        if not recording and not self.taken:  # buffers given back by a backward: refill them
            self.forward(*[x._data for x in self.inputs])
        shape = self.sequence_shape(xw)
        # a table read through ids (lstm's ``ids``) stands for the sequence of its rows
        xw = self.sequence(xw) if recording else xw
        txw = None if txw is None else self.sequence(txw)
        single = len(shape) == 2
        ths = [None] * (1 if single else shape[self.time_axis])
        index = [slice(None)] * 3
        for t in self.order(len(ths)):
            xw_t, txw_t = xw, txw
            if not single:
                index[self.time_axis] = t
                xw_t = xw[tuple(index)] if recording else None
                txw_t = None if txw is None else txw[tuple(index)]
            if recording:
                carry, parts = self.recorded_parts(xw_t, W_h, b_h, carry)
            else:
                parts = self.parts(t)
            h = parts[0]  # the state step t reads
            du = total(tcarry[0] @ W_h, None if tW_h is None else h @ tW_h, tb_h)
            tcarry = self.tangent_step(parts, txw_t, du, tcarry)
            ths[t] = tcarry[0]
        if single:
            return tcarry[0] if len(tcarry) == 1 else tuple(tcarry)
        return (stack(ths, axis=self.time_axis), *tcarry)


class RNNTangent:
    """RNN's step of the tangent recurrence (a mixin of rnn.RNN)."""

    def parts(self, t):
        """(h, h') of step t, from the forward's buffers."""
        prev, new = self.rows(t)
        return self.hs[prev], self.hs[new]

    def tangent_step(self, parts, txw, du, tcarry):
        """dh' = (dxw + du) act'(a), act' = 1 - h'² or [h' > 0]"""
        h = parts[1]
        if self.nonlinearity == "tanh":
            slope = 1 - h * h
        else:
            data = getattr(h, "data", h)
            slope = (data > 0).astype(data.dtype)
        return (total(txw, du) * slope,)


class LSTMTangent:
    """LSTM's step of the tangent recurrence (a mixin of rnn.LSTM)."""

    def parts(self, t):
        """(h, c, σ(i), σ(f), tanh(g), σ(o), tanh(c')) of step t, from the forward's buffers."""
        prev = self.rows(t)[0]
        y, H = self.gates[t], self.hs.shape[-1]
        return (self.hs[prev], self.cs[prev], y[:, :H], y[:, H:2 * H], y[:, 2 * H:3 * H],
                y[:, 3 * H:], self.tanh_c[t])

    def tangent_step(self, parts, txw, du, tcarry):
        """da = dxw + du;  dc' = dσ(f) c + σ(f) dc + dσ(i) g̃ + σ(i) dg̃,
        dh' = dσ(o) tanh c' + σ(o) (1 - tanh² c') dc'"""
        _, c, i, f, g, o, tanh_c = parts
        th, tc = tcarry
        H = th.shape[-1]
        da = total(txw, du)
        di, df = da[:, :H] * (i * (1 - i)), da[:, H:2 * H] * (f * (1 - f))
        dg, do = da[:, 2 * H:3 * H] * (1 - g * g), da[:, 3 * H:] * (o * (1 - o))
        tc = df * c + f * tc + di * g + i * dg
        return do * tanh_c + o * (1 - tanh_c * tanh_c) * tc, tc


class GRUTangent:
    """GRU's step of the tangent recurrence (a mixin of rnn.GRU)."""

    def parts(self, t):
        """(h, u, r, z, n) of step t, from the forward's buffers."""
        H = self.hs.shape[-1]
        return self.hs[self.rows(t)[0]], self.u[t], self.rz[t, :, :H], self.rz[t, :, H:], self.n[t]

    def tangent_step(self, parts, txw, du, tcarry):
        """dr, dz = (dxw + du)[r z] σ';  dn = (dxw[n] + dr u[n] + r du[n]) (1 - n²);
        dh' = dn + dz (h - n) + z (dh - dn)"""
        h, u, r, z, n = parts
        (th,) = tcarry
        H = th.shape[-1]
        da = du[:, :2 * H] if txw is None else txw[:, :2 * H] + du[:, :2 * H]
        dr, dz = da[:, :H] * (r * (1 - r)), da[:, H:] * (z * (1 - z))
        dn = total(None if txw is None else txw[:, 2 * H:], dr * u[:, 2 * H:],
                   r * du[:, 2 * H:]) * (1 - n * n)
        return (dn + dz * (h - n) + z * (th - dn),)
