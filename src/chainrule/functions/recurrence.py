"""The loop shared by the recurrences of ``rnn.py`` (Elman RNN, LSTM, GRU) and
``lstm_sequence.py``: one Function for a whole sequence, its states in time-major buffers,
backward through time on arrays, and ``run_recurrence``, which checks the shapes and fills
absent biases and states before running one.
"""

from chainrule.backend import get_array_module, matrix_sums, scratch
from chainrule.core import Function, Variable, as_variable, grad, is_grad_enabled
from chainrule.functions.rnn_tangent import TangentRecurrence
from chainrule.functions.shape import stack


class Recurrence(TangentRecurrence, Function):
    """The loop shared by the three kinds. Inputs (xw, W_h, b_h, h, [c]).

    The states live in (T+1, N, H) buffers, time-major: step t reads its h_{t-1} from
    row ``t + reverse`` and writes h_t into row ``t + 1 - reverse``, so no step copies a
    state and backward finds every h_{t-1} in one contiguous block. A subclass gives one
    step forward (``step``), one step back (``step_back``), the same step in chainrule
    operations (``recorded_parts``) and its tangent step (``rnn_tangent.py``).

    Every work array (states, activated gates, the gradient being built) is time-major
    and contiguous whatever xw's layout, so each step reads and writes whole rows, and is
    taken from ``backend.scratch`` and given back when backward is done with it. In
    bench/lstm_step.py (batch-first) this took the step's page faults from 2,800 to
    about 950 and the forward loop from 5.6 to 4.2 ms (bench/README.md). A second
    plain backward through the same call runs the forward again to refill them.

    A time-major xw (``nn`` layers always pass one) needs no copy out: hs goes out as a
    view of the state buffer and xw's gradient is the gradient buffer itself, both from
    ``Scratch.result`` (reused only once nothing holds them), not given back: 0.6 ms of
    layout copies a step in bench/lstm_step.py.
    """

    carried = ("h",)

    def __init__(self, time_axis=0, reverse=False):
        self.time_axis = time_axis
        self.reverse = int(reverse)
        self.taken = []  # (tag, array) of the scratch arrays this call holds

    def sequence(self, xw):
        """The inputs as a (T, N, G·H) sequence (or one step) in chainrule operations."""
        return xw

    def sequence_shape(self, xw):
        return xw.shape

    def order(self, steps):
        return range(steps - 1, -1, -1) if self.reverse else range(steps)

    def time_major(self, array):
        """A (T, N, ...) view of a sequence array in xw's layout; (1, N, ...) for one step."""
        if array.ndim == 2:
            return array[None]
        return get_array_module(array).moveaxis(array, self.time_axis, 0)

    def take(self, tag, xp, shape, dtype):
        """A scratch work array (stale contents) that ``give_back`` returns to the pool."""
        array = scratch.take(("rnn", tag), xp, shape, dtype)
        self.taken.append((("rnn", tag), array))
        return array

    def give_back(self):
        for tag, array in self.taken:
            scratch.give(tag, array)
        self.taken = []
        self.hs = None  # a handed-out state buffer (see the class doc) is the pool's again

    def owns_layout(self, xw):
        """Whether hs and xw's gradient go out as the work arrays themselves (time-major)."""
        return xw.ndim == 3 and self.time_axis == 0

    def in_layout(self, steps, like, tag):
        """(T, N, ...) time-major rows copied into a new array in ``like``'s layout (xw's)."""
        if like.ndim == 2:
            return steps[0].copy()
        xp = get_array_module(steps)
        rows = xp.moveaxis(steps, 0, self.time_axis)
        out = scratch.result(("rnn", tag), xp, rows.shape, rows.dtype)
        out[...] = rows
        return out

    def forward(self, xw, W_h, b_h, *carry):
        xp = get_array_module(xw)
        self.give_back()  # a forward run again for a second backward (see backward)
        steps = self.time_major(xw)
        shape = (len(steps) + 1,) + carry[0].shape
        last = 0 if self.reverse else len(steps)  # the row of the final state
        buffers = []
        for name, start in zip(self.carried, carry):
            if name == "h" and self.owns_layout(xw):  # goes out as hs: a result, kept whole
                buffer = scratch.result(("rnn", "hs"), xp, shape, xw.dtype)
            else:
                buffer = self.take(name + "s", xp, shape, xw.dtype)
            buffer[len(steps) - last] = start
            setattr(self, name + "s", buffer)
            buffers.append(buffer)
        self.prepare(steps, b_h)
        for t in self.order(len(steps)):
            self.step(t, steps[t], W_h, b_h)
        finals = tuple(buffer[last].copy() for buffer in buffers)
        if xw.ndim == 2:
            return finals
        hs = self.hs[1 - self.reverse: len(self.hs) - self.reverse]
        return (hs if self.owns_layout(xw) else self.in_layout(hs, xw, "hs"), *finals)

    def backward(self, *gys):
        if is_grad_enabled():  # create_graph: differentiate a recorded recomputation
            return self.recorded_backward(gys)
        # the plain arrays (_data), not the tracked views of .data: 35 steps of NumPy calls
        # on a tracked ghs cost ~10 µs of dispatch each (core/tracked.py), 0.4 ms a step
        xw, W_h = self.inputs[0]._data, self.inputs[1]._data
        if not self.taken:  # given back by an earlier backward: compute them again
            self.forward(*[x._data for x in self.inputs])
        xp = get_array_module(xw)
        single = xw.ndim == 2
        ghs = None if single or gys[0] is None else self.time_major(gys[0]._data)
        # our own arrays, updated in place; zeros for an output no longer held
        carry = [xp.zeros(self.hs.shape[1:], xw.dtype) if g is None else g._data.copy()
                 for g in (gys if single else gys[1:])]
        steps = len(self.hs) - 1
        shape = (steps,) + self.hs.shape[1:-1] + xw.shape[-1:]
        if self.owns_layout(xw):  # goes out as xw's gradient: a result, kept whole
            das = scratch.result(("rnn", "grads"), xp, shape, xw.dtype)
        else:
            das = self.take("grads", xp, shape, xw.dtype)
        dghs = self.hidden_product_grads(das)
        # a contiguous W_hᵀ makes each step's GEMM faster (57 against 91 µs for lstm_step's
        # (32, 512) @ (512, 128)) but costs 159 µs to make: worth it from about 5 steps on, a
        # waste for one step of a cell (LSTMCell in a user's loop: 35 copies per backward)
        W_hT, order = (W_h.T if steps < 5 else xp.ascontiguousarray(W_h.T)), self.order(steps)
        for t in reversed(order):
            if ghs is not None:
                carry[0] += ghs[t]
            direct = self.step_back(t, carry, das[t], dghs[t])
            if t != order[0] or self.inputs[3].requires_grad:  # h_0's only if it needs one
                if direct is None:  # into the carry itself: no new array a step
                    xp.matmul(dghs[t], W_hT, out=carry[0])
                else:
                    carry[0] = direct + dghs[t] @ W_hT
        # every h_{t-1} and every gradient of h_{t-1} W_h: both time-major, one GEMM
        h_prev = self.hs[self.reverse: steps + self.reverse].reshape(-1, W_h.shape[0])
        dgh = dghs.reshape(-1, dghs.shape[-1])
        gW_h = h_prev.T @ dgh if self.inputs[1].requires_grad else None
        gb_h = matrix_sums(dgh, axis=0) if self.inputs[2].requires_grad else None
        gxw = das if self.owns_layout(xw) else self.in_layout(das, xw, "grads")
        self.give_back()
        return (gxw, gW_h, gb_h, *carry)

    def hidden_product_grads(self, das):
        """Where step_back puts the gradient of h W_h + b_h: das itself (rnn, lstm)."""
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

    def rows(self, t):
        """The rows of step t's previous and new state in the state buffers."""
        return t + self.reverse, t + 1 - self.reverse

    def recorded_step(self, xw, W_h, b_h, carry):
        """One step in chainrule operations: the new carry."""
        return self.recorded_parts(xw, W_h, b_h, carry)[0]


def run_recurrence(kind, function, xw, W_h, b_h, states, time_axis, batch=None):
    """Check the shapes, fill absent biases and states with zeros, and run ``function``
    (``batch``: the rows of the states when xw is a table read through ids)."""
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
    if batch is None:
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
