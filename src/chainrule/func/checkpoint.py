"""Checkpointing: trade compute for memory, as torch.utils.checkpoint.

``checkpoint(fn, *args)`` runs ``fn`` without recording its graph, so none of its inner
activations stay alive; backward runs ``fn`` again, recording, and differentiates that. A
deep model split into √L checkpointed segments keeps about √L activations instead of L,
for one more forward pass. Random operations draw the same numbers the second time: the
NumPy generator's state is taken before the first run and put back for the second.
"""

import numpy as np

from chainrule.core.engine import grad as engine_grad
from chainrule.core.function import Function
from chainrule.core.mode import enable_grad, grad_mode, no_grad
from chainrule.core.variable import Variable


def checkpoint(fn, *args):
    """``fn(*args)`` whose inner activations are recomputed in backward instead of kept.

    ``fn`` returns a Variable or a tuple of them. Parameters ``fn`` reads (a Module, or a
    bound method of one, gives them by ``parameters()``) get their gradients as usual, so
    ``chainrule.grad`` works too; any other Variable it captures gets its gradient
    accumulated into ``.grad`` when backward recomputes. Higher-order gradients through a
    checkpoint are not supported::

        h = x
        for block in blocks:
            h = checkpoint(block, h)
    """
    owner = fn if hasattr(fn, "parameters") else getattr(fn, "__self__", None)
    params = list(owner.parameters()) if hasattr(owner, "parameters") else []
    variables = [a for a in args if isinstance(a, Variable)]
    if not variables and not params:
        raise TypeError("checkpoint: needs a Variable among the arguments or a Module")
    return Checkpoint(fn, args, len(variables))(*variables, *params)


class Checkpoint(Function):
    """y = fn(*args), its graph not kept;  gx = the gradient of fn recomputed in backward"""

    keeps_outputs = False

    def __init__(self, fn, args, count):
        self.fn = fn
        self.args = args  # the arguments as given: Variables and settings in their order
        self.count = count  # how many inputs are arguments (the rest are parameters)
        self.rng = np.random.get_state()

    @property
    def name(self):
        return f"checkpoint({getattr(self.fn, '__name__', type(self.fn).__name__)})"

    def call_fn(self, variables):
        values = iter(variables)
        args = [next(values) if isinstance(a, Variable) else a for a in self.args]
        out = self.fn(*args)
        outs = out if isinstance(out, tuple) else (out,)
        if not outs or not all(isinstance(y, Variable) for y in outs):
            raise TypeError(f"{self.name}: the function must return a Variable or a tuple of "
                            f"Variables, got {type(out).__name__}")
        return outs

    def forward(self, *xs):
        with no_grad():
            outs = self.call_fn([Variable(x, requires_grad=False) for x in xs[:self.count]])
        ys = tuple(y._data for y in outs)
        return ys if len(ys) > 1 else ys[0]

    def backward(self, *gys):
        if grad_mode.enabled:
            raise RuntimeError(f"{self.name}: higher-order gradients (create_graph) cannot "
                               "pass through a checkpoint")
        inputs = self.inputs[:self.count]
        params = list(self.inputs[self.count:])
        leaves = [Variable(x._data, requires_grad=x.requires_grad) for x in inputs]
        state = np.random.get_state()
        np.random.set_state(self.rng)  # the same random draws as the first run
        try:
            with enable_grad():
                outs = self.call_fn(leaves)
        finally:
            np.random.set_state(state)
        pairs = [(y, gy) for y, gy in zip(outs, gys) if gy is not None and y.requires_grad]
        wanted = [v for v in leaves + params if v.requires_grad]
        if not pairs or not wanted:
            return (None,) * len(self.inputs)
        ys, gs = zip(*pairs)
        others = captured(ys, set(map(id, leaves + params)))
        found = dict(zip(map(id, wanted + others),
                         engine_grad(list(ys), wanted + others, list(gs), allow_unused=True)))
        for x in others:  # captured Variables outside inputs and parameters: into .grad
            g = found[id(x)]
            if g is not None:
                x.grad = g if x.grad is None else x.grad + g
        return tuple(found.get(id(v)) for v in leaves + params)


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
