"""The LSTM over a sequence read from a table through ids, run feature-major: each step's
arrays are (features, N).

Why the layout. A step is one GEMM and a dozen NumPy calls forward, one GEMM and a
dozen back, on (N, H) blocks per gate. Stored batch-major, a gate is an (N, H) column
slice of the (N, 4H) gate block, and NumPy runs a call on such a slice one row at a time:
about 1.3 µs more per call than on a contiguous block (bench/lstm_step.py's N = 32, H =
128), and a step makes ten such calls. Stored feature-major, the gates are the row blocks
of a (4H, N) array, each contiguous. The step's GEMM then computes W_hᵀ hᵀ, the
orientation OpenBLAS runs faster here (the (4H, H) x (H, N) product 46 µs against 53 for
(N, H) x (H, 4H) on one thread, 27 against 33 on two). The backward's per-step
coefficients are formed in the forward, on contiguous blocks, so a backward step is a
GEMM and six calls instead of sixteen. Figures in bench/README.md ("lstm_step").

Internal order of the gate blocks: o, i, f, g (PyTorch's is i, f, g, o), so that the three
sigmoids are one block and σ(i), σ(f) lie next to tanh(g) and the cell state for one
product. Per step, ``prev`` being the row of the state it reads (``Recurrence.rows``):

    gates[prev]  (5H, N)   σ(o), σ(i), σ(f), tanh(g), then the c the step reads
    hT[row]      (H+1+V, N) the state h, a row of ones that adds b_h inside the GEMM, and
                           the one-hot of the ids the step reads (they pick the table's rows)
    R[t]         (4H, N)   what da needs: [tanh c' σ'(o), tanh(g) σ'(i), c σ'(f), σ(i) tanh'(g)]
                           over s² (below)
    Q[t]         (H, N)    σ(o) (1 - tanh² c'): the path from h' to c'

and backward runs dc += dh Q, da[o] = dh R[o], da[i f g] = dc R[i f g], dc *= σ(f),
dh = W_h da. The sigmoids are σ(a) = tanh(a/2)/2 + 1/2: the halving (s = 1/2) sits in the
weights and in the inputs, so one tanh call activates all four gates, and with u = tanh(s a)
every gate's slope is s² (1 - u²), two calls on the whole block; the s² goes into backward's
copy of W_h and the gradients.

The inputs are a table (V, 4H) and integer ``ids``: step t's inputs are the table's rows
ids[t], as when xw = (W_e W_x + b_x)[ids] for an embedding lookup (nn.LSTM does that).
The one-hot of each step's ids sits in the state's last rows and the table in W's, so the
step's GEMM picks the inputs, and the table's gradient is one GEMM: no (T, N, 4H) array
either way. A plain xw (T, N, 4H) stays with ``LSTM``, batch-major: transposing it in and
its gradient out (0.7 ms each way for bench/lstm_step.py's sizes on one thread) costs
about what the loop wins.
"""

from chainrule.backend import get_array_module, matrix_sums, scratch
from chainrule.core import Variable, as_variable, is_grad_enabled
from chainrule.functions.embedding import embedding
from chainrule.functions.recurrence import run_recurrence
from chainrule.functions.rnn import LSTM

ORDER = (3, 0, 1, 2)  # internal gate block j holds PyTorch's gate ORDER[j]: o, i, f, g
SCALES = (0.5, 0.5, 0.5, 1.0)  # σ(a) = tanh(a/2)/2 + 1/2 on o, i, f; tanh on g


def _blocks(H):
    """(internal block, PyTorch's block, the block's input scale) for each gate."""
    return [(slice(j * H, (j + 1) * H), slice(k * H, (k + 1) * H), s)
            for j, (k, s) in enumerate(zip(ORDER, SCALES))]


class LSTMSequence(LSTM):
    """``LSTM`` over the rows of a table xw at ``ids`` (T, N) (or (N, T) with time_axis 1),
    feature-major inside (see the module doc)."""

    def __init__(self, time_axis, reverse, ids):
        super().__init__(time_axis, reverse)
        self.ids = ids

    def sequence(self, xw):
        """The (T, N, 4H) inputs in chainrule operations: the table's rows at ids."""
        return embedding(self.ids, xw)

    def sequence_shape(self, xw):
        return self.ids.shape + xw.shape[-1:]

    def recompute(self, xw, W_h, b_h, *carry):
        return super().recompute(self.sequence(xw), W_h, b_h, *carry)

    def forward(self, xw, W_h, b_h, h, c):
        xp = get_array_module(xw)
        self.give_back()
        ids = xp.moveaxis(self.ids, self.time_axis, 0)
        (T, N), (V, _), H, dtype = ids.shape, xw.shape, W_h.shape[0], xw.dtype
        first, last = (T, 0) if self.reverse else (0, T)  # rows of the initial, final state
        # W_h, b_h (a row for the state's row of ones) and a table (rows for the state's one-
        # hot ids) in the internal order, sigmoid columns halved
        W = self.W = self.take("W", xp, (H + 1 + V, 4 * H), dtype)
        # and W_h s² for backward's GEMM, made here while W_h is in the cache (25 µs here,
        # 110 in backward)
        self.W_back = self.take("W back", xp, (H, 4 * H), dtype)
        for mine, theirs, scale in _blocks(H):
            xp.multiply(W_h[:, theirs], scale, out=W[:H, mine])
            xp.multiply(W_h[:, theirs], scale * scale, out=self.W_back[:, mine])
            xp.multiply(b_h[theirs], scale, out=W[H, mine])
            xp.multiply(xw[:, theirs], scale, out=W[H + 1:, mine])
        # the states feature-major, (H + 1 + V, N) a row: h, ones, the one-hot ids step t reads
        self.hT = self.take("hT", xp, (T + 1, H + 1 + V, N), dtype)
        self.hT[:, H] = 1
        self.hT[first, :H] = h.T
        # the GEMM picks the table's rows: 46 -> 67 µs a step on one thread, 28 -> 44 on two
        self.hT[:, H + 1:] = 0
        self.hT[xp.arange(T)[:, None] + self.reverse, H + 1 + ids, xp.arange(N)] = 1
        self.gates = self.take("gates", xp, (T + 1, 5 * H, N), dtype)
        self.gates[first, 4 * H:] = c.T
        self.tanh_c = self.take("tanh c", xp, (T, H, N), dtype)
        self.R = self.take("R", xp, (T, 4 * H, N), dtype)
        self.Q = self.take("Q", xp, (T, H, N), dtype)
        pair, WT = xp.empty((2 * H, N), dtype), self.W.T
        for t in self.order(T):
            self.step_forward(t, WT, pair)
        # the states batch-major, (T+1, N, H): hs goes out as a view, backward reads h_{t-1}
        self.hs = scratch.result(("rnn", "hs"), xp, (T + 1, N, H), dtype)
        self.hs[...] = self.hT[:, :H].transpose(0, 2, 1)
        hs = self.hs[1 - self.reverse: T + 1 - self.reverse]
        finals = (self.hs[last].copy(), self.gates[last, 4 * H:].T.copy())
        return (xp.moveaxis(hs, 0, self.time_axis), *finals)

    def step_forward(self, t, WT, pair):
        """Step t: its activated gates, c', h', and backward's coefficients R[t], Q[t]
        (WT: the step GEMM's left operand, W transposed)."""
        xp = get_array_module(pair)
        prev, new = self.rows(t)
        H = len(pair) // 2
        block, R = self.gates[prev], self.R[t]
        y = xp.matmul(WT, self.hT[prev], out=block[:4 * H])
        xp.tanh(y, out=y)
        xp.multiply(y, y, out=R)  # the slopes over s²: 1 - u²
        xp.subtract(1, R, out=R)
        sig = y[:3 * H]
        sig *= 0.5
        sig += 0.5
        xp.multiply(y[H:3 * H], block[3 * H:], out=pair)  # σ(i) tanh(g), σ(f) c
        c = xp.add(pair[:H], pair[H:], out=self.gates[new, 4 * H:])
        tanh_c = xp.tanh(c, out=self.tanh_c[t])
        h = xp.multiply(y[:H], tanh_c, out=self.hT[new, :H])
        R[:H] *= tanh_c
        R[H:3 * H] *= block[3 * H:]
        R[3 * H:] *= y[H:2 * H]
        q = xp.multiply(h, tanh_c, out=self.Q[t])
        xp.subtract(y[:H], q, out=q)  # σ(o) - h' tanh c' = σ(o) (1 - tanh² c')

    def backward(self, *gys):
        if is_grad_enabled():  # create_graph: differentiate a recorded recomputation
            return self.recorded_backward(gys)
        W_h = self.inputs[1]._data
        if not self.taken:  # given back by an earlier backward: compute them again
            self.forward(*[x._data for x in self.inputs])
        xp = get_array_module(W_h)
        T, H, N = self.Q.shape
        dh, dc = (xp.zeros((H, N), W_h.dtype) if g is None else g._data.T.copy()
                  for g in gys[1:])
        ghs = None
        if gys[0] is not None:  # (T, N, H) time-major, transposed once
            ghs = self.take("ghs", xp, (T, H, N), W_h.dtype)
            ghs[...] = xp.moveaxis(gys[0]._data, self.time_axis, 0).transpose(0, 2, 1)
        W = self.W_back
        das = self.take("das", xp, (T, 4 * H, N), W_h.dtype)
        work, order = xp.empty((H, N), W_h.dtype), self.order(T)
        for t in reversed(order):
            if ghs is not None:
                dh += ghs[t]
            da, R = das[t], self.R[t]
            dc += xp.multiply(dh, self.Q[t], out=work)
            xp.multiply(dh, R[:H], out=da[:H])
            xp.multiply(dc, R[H:].reshape(3, H, N), out=da[H:].reshape(3, H, N))  # i, f, g
            dc *= self.gates[self.rows(t)[0], 2 * H:3 * H]
            if t != order[0] or self.inputs[3].requires_grad:  # h_0's only if it needs one
                xp.matmul(W, da, out=dh)
        grads = self.parameter_grads(das)
        self.give_back()
        return (*grads, dh.T.copy(), dc.T.copy())

    def parameter_grads(self, das):
        """The gradients of the table, W_h and b_h from every step's da over s²
        (T, 4H, N)."""
        xp = get_array_module(das)
        T, G, N = das.shape
        H = G // 4
        xw = self.inputs[0]._data
        # da as (4H, T·N), steps side by side, for the sums over steps as GEMMs
        flat = self.take("das flat", xp, (G, T, N), das.dtype)
        flat[...] = das.transpose(1, 0, 2)
        flat = flat.reshape(G, T * N)
        blocks = _blocks(H)
        gW_h = gb_h = gx = None
        if self.inputs[1].requires_grad:
            h_prev = self.hs[self.reverse: T + self.reverse].reshape(T * N, H)
            mine = h_prev.T @ flat.T
            gW_h = xp.empty_like(mine)
            for j, k, scale in blocks:
                xp.multiply(mine[:, j], scale * scale, out=gW_h[:, k])
        rows = None  # (4H, V): each table row's da summed over its steps
        if self.inputs[0].requires_grad or self.inputs[2].requires_grad:
            ids = xp.moveaxis(self.ids, self.time_axis, 0).reshape(-1)
            onehot = self.take("onehot", xp, (T * N, len(xw)), das.dtype)
            onehot.fill(0)
            onehot[xp.arange(T * N), ids] = 1
            rows = flat @ onehot
        if self.inputs[2].requires_grad:  # every da summed: over the table's rows
            mine = matrix_sums(rows, axis=1)
            gb_h = xp.empty_like(mine)
            for j, k, scale in blocks:
                xp.multiply(mine[j], scale * scale, out=gb_h[k])
        if self.inputs[0].requires_grad:
            gx = xp.empty(rows.shape[::-1], das.dtype)
            for j, k, scale in blocks:
                xp.multiply(rows[j].T, scale * scale, out=gx[:, k])
        return gx, gW_h, gb_h

    def parts(self, t):
        """(h, c, σ(i), σ(f), tanh(g), σ(o), tanh(c')) of step t, batch-major views."""
        prev = self.rows(t)[0]
        y, H = self.gates[prev], self.hs.shape[-1]
        return (self.hs[prev], y[4 * H:].T, y[H:2 * H].T, y[2 * H:3 * H].T, y[3 * H:4 * H].T,
                y[:H].T, self.tanh_c[t].T)


def lstm(xw, W_h, b_h=None, h=None, c=None, time_axis=0, reverse=False, ids=None):
    """LSTM recurrence over xw's steps, gates i, f, g, o (see rnn.py's module doc).

    >>> hs, h, c = lstm(x @ W_x + b_x, W_h, b_h)  # x (T, N, C) -> hs (T, N, H), h, c (N, H)

    With integer ``ids`` (T, N) (or (N, T) with ``time_axis=1``), xw is a table (V, 4H) and
    step t's inputs are its rows ``xw[ids[t]]``: ``lstm(table, W_h, b_h, ids=ids)`` is
    ``lstm(embedding(ids, table), W_h, b_h)`` without the (T, N, 4H) array.
    """
    if ids is not None:
        return _lookup(xw, W_h, b_h, h, c, time_axis, reverse, ids)
    function = LSTM(time_axis, reverse)
    return run_recurrence("lstm", function, xw, W_h, b_h, [("h", h), ("c", c)], time_axis)


def _lookup(table, W_h, b_h, h, c, time_axis, reverse, ids):
    """``lstm`` of a table's rows at ``ids``: check the ids, then run the sequence."""
    table = as_variable(table)
    xp = get_array_module(table.data)
    ids = xp.asarray(ids.data if isinstance(ids, Variable) else ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu" or not ids.size or time_axis not in (0, 1):
        raise ValueError(f"lstm: ids must be non-empty (T, N) integers with time_axis 0 or (N, T) "
                         f"with time_axis 1, got shape {ids.shape}, dtype {ids.dtype}, "
                         f"time_axis {time_axis}")
    if table.ndim != 2 or int(ids.min()) < 0 or int(ids.max()) >= table.shape[0]:
        raise ValueError(f"lstm: with ids, xw must be a table (V, 4·H) with every id in [0, V), "
                         f"got shape {table.shape} and ids from {int(ids.min())} to "
                         f"{int(ids.max())}")
    function = LSTMSequence(time_axis, reverse, ids)
    return run_recurrence("lstm", function, table, W_h, b_h, [("h", h), ("c", c)], time_axis,
                       batch=ids.shape[1 - time_axis])
