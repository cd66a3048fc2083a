"""Batching, the machinery under vmap: Function calls on batched Variables become batched calls.

While a vmap runs, ``grad_mode.batch`` holds its ``Batch`` (set through ``mode.set_batch``,
which raises the one flag Function.__call__ tests, ``grad_mode.dispatch``, shared with
forward mode and anomaly checks), and every Function call goes to ``Batch.call``. A
batched Variable is a Variable whose array carries the batch as its axis 0; its class, made
per vmap, says so, and its ``shape`` leaves that axis out while the vmapped function runs,
so the function sees the shape of one sample. Everything else (a rule's own work, the
backward engine, code outside vmap) sees the physical array.

A call with a batched input runs its class's batching rule (func/batch_rules.py): the rule
calls ordinary Functions on the physical arrays, with the batch in front (an axis shifted by
one, a shape with the batch prepended, batched matmul, the batch folded into N for
convolutions), so the whole batch is one array operation and the graph recorded is an
ordinary graph of those calls. Reverse mode then differentiates it as any other graph, which
is how ``vmap(grad(f))`` gives one gradient per sample. A class without a rule (a user's
Function) is called once per sample and the results are stacked, with a warning (shown once
per class and calling line).
"""

import copy
import inspect
import warnings

from chainrule.core import ops
from chainrule.core.function import user_stacklevel
from chainrule.core.mode import grad_mode, set_batch
from chainrule.core.variable import Variable, as_variable

RULES = {}  # Function class -> rule(batch, function, inputs, batched) -> output(s)


def rule(*classes):
    """Register the decorated function as the batching rule of ``classes`` (and subclasses)."""
    def register(fn):
        for cls in classes:
            RULES[cls] = fn
        return fn
    return register


WRAPPERS = {}  # a @batchable wrapper's name -> rule(batch, wrapper, arguments) -> output


def wrapper_rule(*names):
    """Register the decorated function as the batching rule of the ``@batchable`` wrappers
    called ``names`` (core/function.py): ops whose wrapper reads targets or ids itself."""
    def register(fn):
        for name in names:
            WRAPPERS[name] = fn
        return fn
    return register


SIGNATURES = {}  # wrapper -> inspect.Signature: making one costs more than binding it


def arguments(wrapper, args, kwargs):
    """The wrapper's arguments by name, defaults filled in."""
    signature = SIGNATURES.get(wrapper)
    if signature is None:
        signature = SIGNATURES[wrapper] = inspect.signature(wrapper)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def rule_for(cls):
    """The batching rule of Function class ``cls``: its own, or its nearest base class's."""
    for base in cls.__mro__:
        if base in RULES:
            return RULES[base]
    return None


class BatchedVariable(Variable):
    """A Variable whose array holds a batch along axis 0 (see the module docstring)."""

    __slots__ = ()
    batch = None  # the Batch this class belongs to (set on each vmap's own subclass)

    @property
    def shape(self):
        shape = self._data.shape
        return shape[1:] if grad_mode.batch is self.batch else shape

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        from chainrule.core.tensor import Size

        return Size(self.shape)

    def numel(self):
        return int(self.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d Variable")
        return self.shape[0]

    # ---- the methods that compute on the array directly (no Function, no gradient) -------
    def _compare(self, other, compare, symbol):
        if grad_mode.batch is not self.batch:
            return super()._compare(other, compare, symbol)
        if isinstance(other, Variable):
            other = self.batch.adopt(other)
        other_batched = type(other) is type(self)
        other = other._data if isinstance(other, Variable) else other
        rank = max(self._data.ndim - 1, getattr(other, "ndim", 0) - other_batched)
        mine = _padded_array(self._data, rank)
        other = _padded_array(other, rank) if other_batched else other
        return self.batch.mark(self._derived(compare(mine, other)))

    def _reduce_flags(self, how, axis, keepdims, dim, keepdim):
        if grad_mode.batch is not self.batch:
            return getattr(super(), how)(axis, keepdims, dim=dim, keepdim=keepdim)
        from chainrule.core.reductions import axis_and_keepdims

        axis, keepdims = axis_and_keepdims(how, self, axis, keepdims, dim, keepdim)
        ndim = self._data.ndim - 1
        axes = tuple(range(1, ndim + 1)) if axis is None else tuple(
            a % ndim + 1 for a in (axis if isinstance(axis, tuple) else (axis,)))
        found = getattr(self._data, how)(axis=axes, keepdims=keepdims)
        return self.batch.mark(self._derived(found))

    def any(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce_flags("any", axis, keepdims, dim, keepdim)

    def all(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce_flags("all", axis, keepdims, dim, keepdim)

    def astype(self, dtype):
        y = super().astype(dtype)
        if y is not self and grad_mode.batch is self.batch and type(y) is Variable:
            self.batch.mark(y)
        return y

    def _refuse(self, what):
        if grad_mode.batch is self.batch:
            raise RuntimeError(
                f"vmap: {what} of a batched Variable has one value per sample, so Python "
                "cannot branch on it inside vmap; compute with chainrule operations instead")

    def item(self):
        self._refuse("item()")
        return super().item()

    def __bool__(self):
        self._refuse("bool()")
        return super().__bool__()

    def __float__(self):
        self._refuse("float()")
        return super().__float__()

    def __repr__(self):
        if grad_mode.batch is not self.batch:
            return super().__repr__()
        return f"batched({super().__repr__()}, batch size {self._data.shape[0]})"


class Batch:
    """One running vmap: its size, the class of its Variables, and what ran before it."""

    def __init__(self, size, outer=None):
        self.size = size
        self.outer = outer  # the enclosing vmap's Batch, when this one runs inside it
        self.variable = type("BatchedVariable", (BatchedVariable,),
                             {"__slots__": (), "batch": self})

    # ---- entering and leaving --------------------------------------------------
    def __enter__(self):
        self.previous = set_batch(self)
        return self

    def __exit__(self, *exc):
        set_batch(self.previous)

    def holds(self, x):
        return type(x) is self.variable

    def mark(self, y):
        """Make the plain Variable ``y`` (batch in front) one of this batch's, and its
        forward-mode tangents too (computed on the same batched arrays)."""
        if isinstance(y, Variable):
            y.__class__ = self.variable
            tangents = getattr(y, "_tangents", None)
            if tangents:
                for level, t in tangents.items():
                    if type(t) is Variable and t._data.shape != y._data.shape:
                        t = ops.broadcast_to(t, y._data.shape)  # a tangent shared by all rows
                    if type(t) is Variable:
                        t.__class__ = self.variable
                    tangents[level] = t
        return y

    def align(self, x, t):
        """x and t (a primal and its tangent) both batched when either is: the unbatched one
        repeated for every sample."""
        if type(x) is self.variable and type(t) is not self.variable:
            return x, self._expanded(t)
        if type(t) is self.variable and type(x) is not self.variable:
            return self._expanded(x), t
        return x, t

    def _expanded(self, x):
        previous = set_batch(None)
        try:
            return self.mark(self.expand(x))
        finally:
            set_batch(previous)

    # ---- a Function call ----------------------------------------------------------
    def call(self, function, inputs):
        """Run ``function(*inputs)`` on the batch: its rule, a loop, or a plain call."""
        inputs = [self.adopt(x) for x in inputs]
        batched = [type(x) is self.variable for x in inputs]
        set_batch(None)  # the rule's own calls are plain ones
        try:
            if not any(batched):
                return function(*inputs)
            fn = rule_for(type(function))
            if fn is None:
                result = loop(self, function, inputs, batched)
            else:
                result = fn(self, function, inputs, batched)
        finally:
            set_batch(self)
        if type(result) is tuple:
            return tuple(self.mark(y) for y in result)
        return self.mark(result)

    def call_wrapper(self, wrapper, args, kwargs):
        """Run a ``@batchable`` wrapper (core/function.py): plainly when none of its arguments
        is batched, else by its rule in func/batch_wrappers.py."""
        values = [self.adopt(v) for v in (*args, *kwargs.values())]
        if not any(type(v) is self.variable for v in values):
            return wrapper(*args, **kwargs)
        named = arguments(wrapper, values[:len(args)], dict(zip(kwargs, values[len(args):])))
        set_batch(None)
        try:
            result = WRAPPERS[wrapper.__name__](self, wrapper, named)
        finally:
            set_batch(self)
        if isinstance(result, tuple):  # (values, indices) and such
            return type(result)(*[self.mark(y) for y in result])
        return self.mark(result)

    def adopt(self, x):
        """``x``, or, if an enclosing vmap batched it, ``x`` expanded to this batch."""
        if not isinstance(x, BatchedVariable) or type(x) is self.variable:
            return x
        outer = self.outer
        if outer is None or type(x) is not outer.variable:
            raise ValueError("vmap: a Variable batched by a vmap that has finished (or by "
                             "another thread's) reached this one; pass it as an argument")
        previous = set_batch(None)
        try:
            return self.mark(repeat_outer(x, self.size // outer.size))
        finally:
            set_batch(previous)

    # ---- rules' helpers (they run with the batch switched off) ---------------------------
    def expand(self, x):
        """A batched version of the unbatched ``x``: the same sample for every row (a view)."""
        x = as_variable(x)
        return ops.broadcast_to(ops.reshape(x, (1,) + x.shape), (self.size,) + x.shape)


def _padded_array(array, rank):
    """A batched array with 1s after its batch axis up to ``rank`` axes per sample."""
    missing = rank - (array.ndim - 1)
    return array.reshape(array.shape[:1] + (1,) * missing + array.shape[1:]) if missing > 0 \
        else array


def repeated(x):
    """Inside vmap, an unbatched ``x`` repeated for every sample (a view, in the graph), so
    what is differentiated with respect to it is per sample (func.grad's stand-ins); else x."""
    batch = grad_mode.batch
    if batch is None or not isinstance(x, Variable) or type(x) is batch.variable:
        return x
    set_batch(None)
    try:
        return batch.mark(batch.expand(x))
    finally:
        set_batch(batch)


def like(g, x):
    """``g``, which the engine computed for ``x`` as a plain Variable, batched as ``x`` is."""
    if isinstance(x, BatchedVariable) and grad_mode.batch is x.batch and type(g) is Variable:
        g.__class__ = x.batch.variable
    return g


def repeat_outer(x, inner):
    """x of shape (B1, ...) as (B1 * inner, ...): each outer sample repeated ``inner`` times."""
    shape = x.shape
    y = ops.broadcast_to(ops.reshape(x, (shape[0], 1) + shape[1:]), (shape[0], inner) + shape[1:])
    return ops.reshape(y, (shape[0] * inner,) + shape[1:])


def logical_ndim(x, batched):
    """The number of axes of one sample of ``x`` (an input that may be a number or an array)."""
    ndim = x._data.ndim if isinstance(x, Variable) else getattr(x, "ndim", 0)
    return ndim - 1 if batched else ndim


def loop(batch, function, inputs, batched, reason=None):
    """The fallback for a Function without a rule: one call per sample, the results stacked.
    Rules use it too, for a case they cannot batch (``reason``)."""
    # a warning, so Python's filter shows it once per class and calling line
    why = f"with {reason}" if reason else "has no batching rule, so it"
    cls = type(function).__name__
    fix = "" if reason else f" (give it one with chainrule.func.batching.rule({cls}))"
    warnings.warn(f"vmap: {function.name} {why} runs once per sample{fix}",
                  stacklevel=user_stacklevel())
    from chainrule.core.indexing import GetItem
    from chainrule.functions.shape import Stack

    results = []
    for i in range(batch.size):
        xs = [GetItem(i)(x) if b else x for x, b in zip(inputs, batched)]
        y = copy.copy(function)(*xs)
        results.append(y if type(y) is tuple else (y,))
    outputs = tuple(Stack(0)(*ys) for ys in zip(*results))
    return outputs if len(outputs) > 1 else outputs[0]
