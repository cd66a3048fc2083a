"""Checkpointing: trade compute for memory, as torch.utils.checkpoint.

``checkpoint(fn, *args)`` keeps none of ``fn``'s inner activations: fn runs without
recording, and the call enters the graph as one node holding fn's inputs alone; backward
runs ``fn`` again, recording, on aliases of its inputs (so the recomputation's graph
joins the one around it: engine.grad stops at the aliases, and a backward with
``create_graph`` differentiates again), and differentiates that. A deep model split into √L
checkpointed segments keeps about √L activations instead of L, for one more forward pass.
Random operations draw the same numbers the second time: the NumPy generator's state is
taken before the first run and put back for the second.

The weights fn reads besides its arguments (closures, a Module's parameters) must be
inputs of the node too, so that they get their gradients from ``backward`` and
``chainrule.grad`` alike. The first run finds them without recording anything: every
call's inputs are shown to an observer (``grad_mode.observer``, core/mode.py), and under
no_grad nothing fn makes needs a gradient, so each input that needs one and is not an
argument is such a weight (or a Variable of the graph around fn, which is as good).
"""

import numpy as np

from chainrule.core import ops
from chainrule.core.engine import grad as engine_grad
from chainrule.core.function import Function
from chainrule.core.mode import enable_grad, grad_mode, refresh
from chainrule.core.variable import Variable


def checkpoint(fn, *args):
    """``fn(*args)`` whose inner activations are recomputed in backward instead of kept.

    ``fn`` returns a Variable or a tuple of them. The Variables it reads besides its
    arguments (a layer's weights, captured or a Module's own) get their gradients as usual:
    ``backward`` and ``chainrule.grad`` both see them, and so do higher-order gradients
    (the recomputation is recorded then, as any backward with ``create_graph``). Inside
    ``vmap`` fn simply runs, recorded: the node has no batching rule::

        h = x
        for block in blocks:
            h = checkpoint(block, h)
    """
    if not grad_mode.enabled or grad_mode.batch is not None:  # nothing kept; or in vmap
        return fn(*args)
    rng = np.random.get_state()
    inputs = [a for a in args if isinstance(a, Variable)]
    outs, weights = unrecorded(fn, args, inputs, name_of(fn))
    arrays = tuple(y._data for y in outs)
    return Checkpoint(fn, args, len(inputs), rng, arrays)(*inputs, *weights)


def unrecorded(fn, args, inputs, name):
    """``(outputs, weights)``: fn run without recording, and the Variables needing gradients
    that its operations read besides ``inputs``, in the order first read."""
    known = {id(x) for x in inputs}
    found = {}

    def observe(xs):
        for x in xs:
            if x.requires_grad and id(x) not in known:
                found.setdefault(id(x), x)

    # A checkpoint inside fn runs plainly here (recording is off), so this sees its reads;
    # one inside ``enable_grad`` calls its node with its weights, so this sees those too.
    previous = grad_mode.enabled, grad_mode.observer
    grad_mode.enabled, grad_mode.observer = False, observe
    refresh()
    try:
        outs = call(fn, args, inputs, name)
    finally:
        grad_mode.enabled, grad_mode.observer = previous
        refresh()
    return outs, list(found.values())


def name_of(fn):
    return f"checkpoint({getattr(fn, '__name__', type(fn).__name__)})"


def call(fn, args, variables, name):
    """fn on ``args`` with its Variables replaced by ``variables``; its outputs as a tuple."""
    values = iter(variables)
    out = fn(*[next(values) if isinstance(a, Variable) else a for a in args])
    outs = out if isinstance(out, tuple) else (out,)
    if not outs or not all(isinstance(y, Variable) for y in outs):
        raise TypeError(f"{name}: the function must return a Variable or a tuple of "
                        f"Variables, got {type(out).__name__}")
    return outs


class Checkpoint(Function):
    """y = fn(*args), its graph not kept;  gx = the gradient of fn recomputed in backward

    Inputs: fn's Variable arguments, then the Variables needing gradients that fn reads
    besides them (its weights).
    """

    keeps_outputs = False

    def __init__(self, fn, args, count, rng, arrays):
        self.fn = fn
        self.args = args  # the arguments as given: Variables and settings in their order
        self.count = count  # how many inputs are arguments (the rest are weights)
        self.rng = rng  # NumPy's generator state before the first run
        self.arrays = arrays  # the first run's results, handed out once by forward

    @property
    def name(self):
        return name_of(self.fn)

    def forward(self, *xs):
        arrays, self.arrays = self.arrays, None
        return arrays if len(arrays) > 1 else arrays[0]

    def backward(self, *gys):
        create_graph = grad_mode.enabled  # a backward with create_graph (func.grad nests so)
        weights = list(self.inputs[self.count:])
        state = np.random.get_state()
        np.random.set_state(self.rng)  # the same random draws as the first run
        try:
            with enable_grad():
                leaves = [ops.alias(x) for x in self.inputs[:self.count]]
                outs = call(self.fn, self.args, leaves, self.name)
        finally:
            np.random.set_state(state)
        pairs = [(y, gy) for y, gy in zip(outs, gys) if gy is not None and y.requires_grad]
        wanted = [v for v in leaves + weights if v.requires_grad]
        if not pairs or not wanted:
            return (None,) * len(self.inputs)
        ys, gs = zip(*pairs)
        found = dict(zip(map(id, wanted), engine_grad(list(ys), wanted, list(gs),
                                                      create_graph=create_graph,
                                                      allow_unused=True)))
        return tuple(found.get(id(v)) for v in leaves + weights)

