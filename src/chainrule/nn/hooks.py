"""Module hooks: functions called around ``forward`` and on the gradients of a module's outputs.

A module with no hook pays one attribute check per call; the first registration gives it a
``Hooks`` record and from then on ``call`` runs the forward between its hooks. The backward
hooks need no support from the engine: the module's inputs and outputs pass through two
identity Functions whose backward sees the gradients, as PyTorch's BackwardHookFunction does.
"""

import itertools

from chainrule.core import Function, Variable
from chainrule.core.mode import grad_mode

_ids = itertools.count()


class Hooks:
    """The hooks of one module, each kind in a dict ``id -> (fn, with_kwargs)`` in call order."""

    def __init__(self):
        self.forward_pre, self.forward = {}, {}
        self.backward_pre, self.backward = {}, {}


class HookMethods:
    """Module's methods that register hooks; ``Module.__call__`` runs them through ``call``."""

    _hooks = None  # a Hooks once one is registered; until then a call is forward alone

    def _hook_table(self, kind):
        if self._hooks is None:
            self.__dict__["_hooks"] = Hooks()
        return getattr(self._hooks, kind)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each forward; a value it returns replaces args.

        With ``with_kwargs=True`` it is ``hook(module, args, kwargs)`` and may return
        ``(args, kwargs)``. Returns a handle whose ``remove()`` takes the hook out.
        """
        return add(self._hook_table("forward_pre"), hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args, output)`` after each forward; a value it returns replaces
        the output. ``with_kwargs=True``: ``hook(module, args, kwargs, output)``."""
        return add(self._hook_table("forward"), hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when backward reaches the inputs.

        ``grad_output`` holds the gradients of the outputs that need one, ``grad_input``
        one entry per positional argument (None where none flows: a number, an array, an
        input that needs no gradient); a tuple the hook returns replaces grad_input.
        """
        return add(self._hook_table("backward"), hook, prepend)

    register_backward_hook = register_full_backward_hook  # one kind of backward hook here

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the outputs' gradients are known; a tuple
        it returns replaces grad_output (and what flows on into the module)."""
        return add(self._hook_table("backward_pre"), hook, prepend)


class RemovableHandle:
    """What ``register_*_hook`` returns: ``remove()`` takes the hook out (also on leaving
    a ``with`` block); removing twice is harmless."""

    def __init__(self, table, key):
        self._table, self.id = table, key

    def remove(self):
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add(table, fn, prepend=False, with_kwargs=False):
    """File ``fn`` in ``table`` (first when ``prepend``); its handle."""
    if not callable(fn):
        raise TypeError(f"register hook: expected a callable, got {type(fn).__name__}")
    key = next(_ids)
    earlier = list(table.items()) if prepend else []
    if prepend:
        table.clear()
    table[key] = (fn, with_kwargs)
    table.update(earlier)
    return RemovableHandle(table, key)


def call(module, args, kwargs):
    """``module.forward`` between its pre-hooks and hooks, with backward hooks attached."""
    hooks = module._hooks
    for fn, with_kwargs in list(hooks.forward_pre.values()):
        result = fn(module, args, kwargs) if with_kwargs else fn(module, args)
        if result is None:
            continue
        if with_kwargs:
            args, kwargs = result
        else:
            args = result if isinstance(result, tuple) else (result,)
    watch = None
    if (hooks.backward or hooks.backward_pre) and grad_mode.enabled:
        watch = _Watch(module)
        args = watch.inputs(args)
    out = module.forward(*args, **kwargs)
    for fn, with_kwargs in list(hooks.forward.values()):
        result = fn(module, args, kwargs, out) if with_kwargs else fn(module, args, out)
        if result is not None:
            out = result
    return out if watch is None else watch.outputs(out)


class _Watch:
    """One call's backward hooks: output grads are caught first, then the input grads.

    ``hook(module, grad_input, grad_output)`` runs once per backward, when the gradients
    of the module's Variable inputs are known (or with ``(None, ...)`` as grad_input, at the
    outputs, when no input needs a gradient); a tuple it returns replaces grad_input.
    ``pre_hook(module, grad_output)`` runs first and may replace grad_output.
    """

    def __init__(self, module):
        self.module = module
        self.count = 0  # positional args; grad_input has one entry (or None) for each
        self.positions = []  # where the inputs that need a gradient sit among them
        self.grad_output = None

    def inputs(self, args):
        self.count = len(args)
        self.positions = [i for i, a in enumerate(args)
                          if isinstance(a, Variable) and a.requires_grad]
        if not self.positions:
            return args
        passed = _Identity(self.on_input_grads)(*[args[i] for i in self.positions])
        passed = passed if isinstance(passed, tuple) else (passed,)
        args = list(args)
        for i, x in zip(self.positions, passed):
            args[i] = x
        return tuple(args)

    def outputs(self, out):
        leaves = []
        _flatten(out, leaves)
        wanted = [y for y in leaves if y.requires_grad]
        if not wanted:
            return out
        passed = _Identity(self.on_output_grads)(*wanted)
        passed = passed if isinstance(passed, tuple) else (passed,)
        swap = {id(y): p for y, p in zip(wanted, passed)}
        return _rebuild(out, swap)

    def on_output_grads(self, gys):
        for fn, _ in list(self.module._hooks.backward_pre.values()):
            result = fn(self.module, gys)
            if result is not None:
                gys = _as_tuple(result)
        self.grad_output = gys
        if not self.positions:
            self.run_hooks([None] * self.count)
        return gys

    def on_input_grads(self, gxs):
        grad_input = [None] * self.count
        for i, gx in zip(self.positions, gxs):
            grad_input[i] = gx
        grad_input = self.run_hooks(grad_input)
        return tuple(grad_input[i] for i in self.positions)

    def run_hooks(self, grad_input):
        grad_input = tuple(grad_input)
        for fn, _ in list(self.module._hooks.backward.values()):
            result = fn(self.module, grad_input, self.grad_output)
            if result is not None:
                result = _as_tuple(result)
                if len(result) != len(grad_input):
                    raise ValueError(
                        f"{type(self.module).__name__} backward hook: returned "
                        f"{len(result)} gradients for {len(grad_input)} inputs")
                grad_input = result
        return grad_input


class _Identity(Function):
    """y_i = x_i; the backward hands the gradients to ``on_grads``, which may replace them."""

    keeps_outputs = False

    def __init__(self, on_grads):
        self.on_grads = on_grads

    def forward(self, *xs):
        return xs if len(xs) > 1 else xs[0]

    def backward(self, *gys):
        gxs = self.on_grads(tuple(gys))
        return tuple(gxs) if len(gxs) > 1 else gxs[0]


def _as_tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _flatten(out, leaves):
    if isinstance(out, Variable):
        leaves.append(out)
    elif isinstance(out, (tuple, list)):
        for item in out:
            _flatten(item, leaves)


def _rebuild(out, swap):
    if isinstance(out, Variable):
        return swap.get(id(out), out)
    if isinstance(out, (tuple, list)):
        items = [_rebuild(item, swap) for item in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out
