"""A record of what the forward and backward passes really did, step by step.

Inside ``record()`` the graph tells a ``Trace`` of every recorded call (the
Function, its outputs and their values) and the backward engine of every step it
runs: the Function, the upstream gradient it received, and for each input the
gradient it handed on. From the engine's own numbers the trace adds, per input,
the local derivative ∂z/∂x (the Function's own ``backward`` given ones) and where
two paths meet, the accumulation: the sum so far, the new term, the new sum::

    with trace.record() as t:
        price = (apple * apple_num + orange * orange_num) * tax
        price.backward()
    for line in t.lines():
        print(line)      # backward 1 / 4: mul  ∂L/∂tax = 1 · 650 = 650; ...

Outside ``record()`` the hooks cost nothing per call (recording is one of the things
``grad_mode.dispatch``, the one flag the plain call tests, sends to the slow path) and
one ``is not None`` test of a local per backward step.
"""

import contextlib

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core.engine import _fit, grad
from chainrule.core.function import Function
from chainrule.core.indexing import ScatteredGrad
from chainrule.core.mode import grad_mode, refresh
from chainrule.viz.drawing import walk


class ForwardStep:
    """One recorded call: ``function``, its ``outputs`` and their ``values`` when it ran."""

    phase = "forward"

    def __init__(self, function, outputs, values):
        self.function, self.outputs, self.values = function, outputs, values


class Edge:
    """What flowed back to one input: ``local`` ∂z/∂x, ``product`` ∂L/∂x handed on, and
    ``total``, x's gradient summed so far (``product`` itself unless paths met at x).

    ``kind`` says how they relate: 'elementwise' (product = upstream · local, element
    by element), 'broadcast' (the same, then summed over the axes x was broadcast
    along) or 'vjp' (no such factorisation: product = Jᵀ · upstream, and ``local`` is
    Jᵀ · 1, the Function's backward given ones; None if that could not be computed).
    """

    def __init__(self, index, variable, local, product, kind):
        self.index, self.variable = index, variable
        self.local, self.product, self.kind = local, product, kind
        self.total = product


class Accumulation:
    """Two paths meet at ``variable``: ``before`` + ``added`` = ``after``."""

    def __init__(self, variable, before, added, after):
        self.variable, self.before, self.added, self.after = variable, before, added, after


class BackwardStep:
    """One Function run by the engine: the ``upstream`` gradients of its outputs, its
    ``edges`` (one per input that received a gradient) and the ``accumulations``."""

    phase = "backward"

    def __init__(self, function, outputs, upstream, edges, accumulations):
        self.function, self.outputs, self.upstream = function, outputs, upstream
        self.edges, self.accumulations = edges, accumulations


class Trace:
    """The steps of recorded forward and backward passes, in the order they ran.

    ``sums`` holds each Variable's gradient summed so far: after the backward, a
    leaf's sum is the gradient this pass added to its ``.grad``.
    """

    def __init__(self):
        self.forward_steps = []
        self.backward_steps = []
        self.sums = {}  # id(variable) -> (variable, summed gradient array)
        self.made = {}  # id(function) -> its outputs, from the forward steps

    # ---- called by the graph and the engine while recording --------------
    def forward(self, function, outputs):
        values = [_host(y._data).copy() for y in outputs]
        self.forward_steps.append(ForwardStep(function, tuple(outputs), values))
        self.made[id(function)] = tuple(outputs)

    def backward(self, function, gys, gxs):
        # copies: a .grad may share these buffers, and an optimizer may zero it in place later
        upstream = [None if gy is None else _host(gy._data).copy() for gy in gys]
        taken = [(i, x, gx) for i, (x, gx) in enumerate(zip(function.inputs, gxs))
                 if gx is not None and x.requires_grad]
        locals_, kinds = _local_derivatives(function, gys, [i for i, _, _ in taken])
        edges, accumulations = [], []
        for i, x, gx in taken:
            if type(gx) is ScatteredGrad:
                gx = gx.variable()
            product = _host(_fit(gx, x, function)._data).copy()
            edge = Edge(i, x, locals_.get(i), product, kinds.get(i, "vjp"))
            edges.append(edge)
            seen = self.sums.get(id(x))
            if seen is not None:  # the engine adds the same two arrays, in the same order
                edge.total = seen[1] + product
                accumulations.append(Accumulation(x, seen[1], product, edge.total))
            self.sums[id(x)] = (x, edge.total)
        outputs = self.made.get(id(function)) or tuple(_outputs_of(function))
        self.backward_steps.append(
            BackwardStep(function, outputs, upstream, edges, accumulations))

    # ---- reading ------------------------------------------------------------
    def grad_of(self, variable):
        """The gradient summed into ``variable`` over the recorded backward (None if none)."""
        entry = self.sums.get(id(variable))
        return None if entry is None else entry[1]

    def steps(self):
        return self.forward_steps + self.backward_steps

    def lines(self, names=None):
        """The backward steps as text, one line each, with the chain rule's numbers."""
        from chainrule.viz.text import backward_lines

        return backward_lines(self, names)


@contextlib.contextmanager
def record(trace=None):
    """Record this thread's forward calls and backward steps into ``trace`` (a new Trace)."""
    trace = Trace() if trace is None else trace
    previous = grad_mode.tracer
    grad_mode.tracer = trace
    refresh()  # calls take the slow path, which tells the tracer
    try:
        yield trace
    finally:
        grad_mode.tracer = previous
        refresh()


def trace_of(outputs, trace=None):
    """A Trace of the graph behind ``outputs``: the recorded one, completed, or a new one.

    Calls missing from ``trace`` (all of them without one) become forward steps in an
    order the graph allows, with their outputs' current values. Without a recorded
    backward, one is run by the engine into the trace: the gradients of ``outputs``
    (seeded with ones) with respect to every Variable below them; no ``.grad`` changes.
    """
    trace = Trace() if trace is None else trace
    variables, functions, edges = walk(outputs)
    recorded = {id(step.function) for step in trace.forward_steps}
    made = {}
    for f, v in ((a, b) for a, b in edges if isinstance(a, Function)):
        made.setdefault(id(f), []).append(v)
    missing = [ForwardStep(f, tuple(made[id(f)]), [_host(v._data) for v in made[id(f)]])
               for f in functions if id(f) not in recorded]
    trace.forward_steps[:0] = missing
    trace.made.update((id(step.function), step.outputs) for step in missing)
    if not trace.backward_steps:
        wanted = [v for v in variables if v.requires_grad]
        with record(trace):
            grad(outputs, wanted, allow_unused=True)
    seed_outputs(trace, outputs)
    return trace


def seed_outputs(trace, outputs):
    """Give each output its seed (what backward started it with) as its summed gradient."""
    steps = {id(step.function): step for step in trace.backward_steps}
    for y in outputs:
        step = steps.get(id(y.creator))
        if id(y) in trace.sums or step is None:
            continue
        i = next((i for i, v in enumerate(step.outputs) if v is y), 0)
        if step.upstream[i] is not None:
            trace.sums[id(y)] = (y, step.upstream[i])


def _outputs_of(function):
    """The outputs a Function still references (none when its backward needs none)."""
    return [ref() for ref in function.outputs] if function.outputs else []


def _local_derivatives(function, gys, indices):
    """input index -> ∂z/∂x (the Function's backward given ones) and -> kind (see Edge).

    A second probe, the backward given a varied upstream, tells an elementwise rule
    (product = upstream · local) from one that only looks it (softmax's rows).
    """
    if not indices:
        return {}, {}
    ones = _probe(function, gys, lambda a: get_array_module(a).ones_like(a))
    if ones is None:
        return {}, {}
    locals_ = {i: _host(ones[i]) for i in indices if ones[i] is not None}
    if len(gys) != 1 or gys[0] is None:
        return locals_, {}
    gy = _host(gys[0]._data)
    varied = _probe(function, gys, lambda a: get_array_module(a).asarray(_varied(a)))
    kinds = {}
    for i, local in locals_.items():
        if varied is None or varied[i] is None or local.shape != gy.shape:
            continue
        expected = _host(varied[i])
        if expected.shape == local.shape and np.allclose(
                expected, _varied(gy) * local, rtol=_tolerance(local), atol=0):
            x = function.inputs[i]
            kinds[i] = "elementwise" if x.shape == gy.shape else "broadcast"
    return locals_, kinds


def _probe(function, gys, make):
    """``function.backward`` given ``make(gy)`` for each upstream, unrecorded: arrays or None."""
    probes = tuple(None if gy is None else gy._derived(make(gy._data)) for gy in gys)
    previous = grad_mode.enabled
    grad_mode.enabled = False
    try:
        out = function.backward(*probes)
    except Exception:  # noqa: BLE001 -- a user's backward may refuse an unusual upstream
        return None
    finally:
        grad_mode.enabled = previous
    out = out if type(out) is tuple else (out,)
    result = []
    for g in out:
        if type(g) is ScatteredGrad:
            g = g.data
        elif g is not None and hasattr(g, "creator"):
            g = g._data
        result.append(None if g is None else np.asarray(_host(g)))
    return result


def _varied(a):
    """A fixed upstream of ``a``'s shape with distinct entries in [1, 2): no zeros, no ties."""
    a = _host(a)
    steps = np.arange(a.size, dtype=np.float64).reshape(a.shape)
    return (1.0 + ((steps * 0.6180339887) % 1.0)).astype(a.dtype if a.dtype.kind in "fc" else
                                                          np.float64)


def _tolerance(a):
    return 1e-4 if a.dtype.itemsize <= 4 else 1e-9


def _host(a):
    """A NumPy array of ``a`` (CuPy arrays are copied to the host)."""
    xp = get_array_module(a)
    return a if xp is np else xp.asnumpy(a)
