"""Checkpointing: trade compute for memory, as torch.utils.checkpoint.

``checkpoint(fn, *args)`` keeps none of ``fn``'s inner activations: the call enters the graph
as one node holding fn's inputs alone, and backward runs ``fn`` again, recording, and
differentiates that. A deep model split into √L checkpointed segments keeps about √L
activations instead of L, for one more forward pass. Random operations draw the same
numbers the second time: the NumPy generator's state is taken before the first run and put
back for the second.

The first run records fn's graph only long enough to find the weights fn reads besides its
arguments (closures, a Module's parameters), then drops it with every activation in it, so
they become inputs of the checkpoint node and get their gradients from ``backward`` and
``chainrule.grad`` alike (as torch's non-reentrant checkpoint; it never holds more than the
one segment the recomputation holds too).
"""

import numpy as np

from chainrule.core.engine import grad as engine_grad
from chainrule.core.function import Function
from chainrule.core.mode import enable_grad, grad_mode
from chainrule.core.variable import Variable


def checkpoint(fn, *args):
    """``fn(*args)`` whose inner activations are recomputed in backward instead of kept.

    ``fn`` returns a Variable or a tuple of them. The Variables it reads besides its
    arguments (a layer's weights, captured or a Module's own) get their gradients as usual:
    ``backward`` and ``chainrule.grad`` both see them. Higher-order gradients through a
    checkpoint are not supported::

        h = x
        for block in blocks:
            h = checkpoint(block, h)
    """
    if not grad_mode.enabled:  # nothing would be kept anyway
        return fn(*args)
    rng = np.random.get_state()
    inputs = [a for a in args if isinstance(a, Variable)]
    leaves = [fresh(x) for x in inputs]
    outs = call(fn, args, leaves, name_of(fn))  # recorded, to find what fn reads ...
    params = captured(outs, {id(x) for x in leaves})
    arrays = tuple(y._data for y in outs)  # ... then the graph is dropped with outs
    del outs
    return Checkpoint(fn, args, len(inputs), rng, arrays)(*inputs, *params)


def fresh(x):
    """A leaf with x's array: fn's graph starts here, cut from the graph that made x."""
    return Variable(x._data, requires_grad=x.requires_grad)


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

    Inputs: fn's Variable arguments, then the leaves fn reads besides them (its weights).
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
        if grad_mode.enabled:
            raise RuntimeError(f"{self.name}: higher-order gradients (create_graph) cannot "
                               "pass through a checkpoint")
        leaves = [fresh(x) for x in self.inputs[:self.count]]
        weights = list(self.inputs[self.count:])
        state = np.random.get_state()
        np.random.set_state(self.rng)  # the same random draws as the first run
        try:
            with enable_grad():
                outs = call(self.fn, self.args, leaves, self.name)
        finally:
            np.random.set_state(state)
        pairs = [(y, gy) for y, gy in zip(outs, gys) if gy is not None and y.requires_grad]
        wanted = [v for v in leaves + weights if v.requires_grad]
        if not pairs or not wanted:
            return (None,) * len(self.inputs)
        ys, gs = zip(*pairs)
        found = dict(zip(map(id, wanted), engine_grad(list(ys), wanted, list(gs),
                                                      allow_unused=True)))
        return tuple(found.get(id(v)) for v in leaves + weights)


def captured(outputs, known):
    """The leaves needing gradients that ``outputs`` reach, other than the ``known`` ones."""
    seen, found, stack = set(), [], [y.creator for y in outputs if y.creator is not None]
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        for x in f.inputs:
            if x.creator is not None:
                stack.append(x.creator)
            elif x.requires_grad and id(x) not in known and id(x) not in seen:
                seen.add(id(x))
                found.append(x)
    return found
