"""Forward mode: tangents carried beside values, computed in the same pass as the values.

Inside ``with dual_level():`` a Variable made by ``make_dual(x, t)`` carries the tangent
``t`` (a direction ẋ of x's shape). Every Function called on Variables that carry tangents
computes, right after its forward, the tangents of its outputs with its rule
``jvp(*tangents)``: ẏ = J ẋ, one Jacobian-vector product per operation, so a whole
function's J·ẋ costs about one more forward pass. ``unpack_dual(y)`` reads ẏ back.

The rules are written with chainrule operations, so a tangent is itself a Variable in
the graph: reverse mode differentiates through it (reverse-over-forward), and a
backward pass run inside a level carries tangents through its own operations
(forward-over-reverse: Hessian-vector products). Levels nest: the rules of a level run
with only the levels opened before it active, so two perturbations never mix.

Tangents sit on each Variable in a dict keyed by level; a level's entries are ignored
once it closes. Function.__call__ tests one flag (``grad_mode.dispatch``) and calls
``propagate`` only when a level is open: the plain path pays nothing more.
"""

import contextlib
import warnings
import weakref
from typing import NamedTuple

from chainrule.backend import get_array_module
from chainrule.core import engine, ops
from chainrule.core.function import Function, user_stacklevel
from chainrule.core.mode import enable_grad, grad_mode, refresh


class Level:
    """One forward-mode level: the key under which its tangents are stored."""

    __slots__ = ("depth",)

    def __init__(self, depth):
        self.depth = depth

    def __repr__(self):
        return f"<dual level {self.depth}>"


@contextlib.contextmanager
def dual_level():
    """Open a forward-mode level for this thread; tangents made inside belong to it.

    >>> with dual_level():
    ...     x = make_dual(Variable(np.array(2.0)), Variable(np.array(1.0)))
    ...     y = x * x
    ...     unpack_dual(y).tangent          # dy = 2x · 1
    variable(4.)
    """
    previous = grad_mode.levels
    level = Level(len(previous))
    grad_mode.levels = previous + (level,)
    refresh()
    try:
        yield level
    finally:
        grad_mode.levels = previous
        refresh()


def _open_level(op, level):
    if level is not None:
        if level not in grad_mode.levels:
            raise RuntimeError(f"{op}: {level!r} is not open")
        return level
    if not grad_mode.levels:
        raise RuntimeError(f"{op}: no forward-mode level is open; use `with dual_level():`")
    return grad_mode.levels[-1]


def make_dual(x, tangent, level=None):
    """``x`` under a new node (gradients flow back to x; the buffer is shared) carrying
    ``tangent``.

    ``tangent`` is a Variable or an array of x's shape; a floating tangent takes x's
    dtype. ``level`` defaults to the innermost open one.
    """
    level = _open_level("make_dual", level)
    if x.dtype.kind not in "fc":
        raise TypeError(f"make_dual: the primal has dtype {x.dtype}; only floating "
                        "Variables carry tangents")
    tangent = tangent if hasattr(tangent, "creator") else x.constant(tangent)
    if tangent.shape != x.shape:
        raise ValueError(f"make_dual: the tangent has shape {tangent.shape} but its primal "
                         f"has shape {x.shape}")
    dual, tangent = ops.alias(x), ops.cast(tangent, x.dtype)
    if grad_mode.batch is not None:  # inside vmap: a primal and its tangent batched alike
        dual, tangent = grad_mode.batch.align(dual, tangent)
    set_tangent(dual, level, tangent)
    return dual


class Dual(NamedTuple):
    """What ``unpack_dual`` returns: the value and its tangent (None: no tangent, zero)."""

    primal: object
    tangent: object


def unpack_dual(y, level=None):
    """``(y, ẏ)``: y's tangent at ``level`` (default innermost), or None when it has none."""
    return Dual(y, tangent_of(y, _open_level("unpack_dual", level)))


def tangent_of(x, level):
    """x's tangent at ``level``, or None (no tangent: a zero one)."""
    tangents = getattr(x, "_tangents", None)  # the slot stays unset until a tangent arrives
    return None if tangents is None else tangents.get(level)


def set_tangent(x, level, tangent):
    tangents = getattr(x, "_tangents", None)
    if tangents is None:
        x._tangents = {level: tangent}
    else:
        tangents[level] = tangent


def propagate(function, inputs, outputs):
    """Give ``outputs`` their tangents at each open level where an input carries one.

    Called by ``Function._dispatch`` after the forward. Each level's rule runs with
    only the levels outside it open, so its operations carry the outer tangents on.
    """
    if not hasattr(function, "inputs"):  # a call that recorded nothing: jvp reads them anyway
        function.inputs = tuple(inputs)
        function.outputs = [weakref.ref(y) for y in outputs]
    rule = function.jvp if type(function).jvp is not Function.jvp else None
    levels, dispatch = grad_mode.levels, grad_mode.dispatch
    found_in = [getattr(x, "_tangents", None) or {} for x in inputs]
    for depth in range(len(levels) - 1, -1, -1):
        level = levels[depth]
        tangents = [found.get(level) for found in found_in]
        if tangents.count(None) == len(tangents):
            continue
        grad_mode.levels = levels[:depth]
        refresh()
        try:
            found = rule(*tangents) if rule else double_vjp(function, tangents, outputs)
            found = found if type(found) is tuple else (found,)
            if len(found) != len(outputs):
                raise TypeError(f"{function.name} jvp: returned {len(found)} tangents for "
                                f"{len(outputs)} outputs")
            for y, t in zip(outputs, found):
                if t is not None and y.dtype.kind in "fc":
                    set_tangent(y, level, fit(t, y, function))
        finally:
            grad_mode.levels, grad_mode.dispatch = levels, dispatch


def fit(t, y, function):
    """Tangent ``t`` as a Variable of output ``y``'s shape and dtype (a broadcast one
    broadcast out, as ``x0 + x1`` gives x1's tangent), or an error naming the op."""
    if not hasattr(t, "creator"):  # a rule may return an array or a number
        t = y.constant(t)
    if t.dtype != y.dtype:
        t = ops.cast(t, y.dtype)
    if t.shape == y.shape:
        return t
    try:
        return ops.broadcast_to(t, y.shape)
    except ValueError:
        raise ValueError(f"{function.name} jvp: tangent of shape {t.shape} does not fit output "
                         f"of shape {y.shape}") from None


def double_vjp(function, tangents, outputs):
    """J ẋ for a Function that defines no jvp, from its backward: ẏ = ∂(Jᵀu)/∂u · ẋ.

    backward computes u ↦ Jᵀu, linear in u; differentiating it with respect to u in
    the direction ẋ gives J ẋ. Costs a backward and its backward per call, and warns
    once per Function class.
    """
    cls = type(function)
    if "_jvp_warned" not in cls.__dict__:
        cls._jvp_warned = True
        warnings.warn(f"{cls.__name__} defines no jvp: forward mode differentiates its backward "
                      "twice instead (double vjp), which is slower", stacklevel=user_stacklevel())
    with enable_grad():
        us = []
        for y in outputs:  # the cotangent u, a leaf of zeros: backward is linear in it
            u = y._derived(get_array_module(y._data).zeros_like(y._data))
            u.requires_grad = y.dtype.kind in "fc"
            us.append(u)
        inputs = function.inputs  # backward may skip an input that needs no gradient:
        function.inputs = tuple(_needing_grad(x) if t is not None else x  # give it one that does
                                for x, t in zip(inputs, tangents))
        try:
            gxs = function.backward(*us)
        finally:
            function.inputs = inputs
        gxs = gxs if type(gxs) is tuple else (gxs,)
        pairs = [(_input_grad(gx, x), t)
                 for x, gx, t in zip(inputs, gxs, tangents)
                 if gx is not None and t is not None]
        if not pairs:
            return (None,) * len(outputs) if len(outputs) > 1 else None
        wanted = [u for u in us if u.requires_grad]
        found = engine.grad([g for g, _ in pairs], wanted, grad_outputs=[t for _, t in pairs],
                            create_graph=True, allow_unused=True)
    found = iter(found)
    result = tuple(next(found) if u.requires_grad else None for u in us)
    return result if len(result) > 1 else result[0]


def _needing_grad(x):
    """``x`` itself if it needs a gradient, else a stand-in over its buffer that does."""
    if x.requires_grad:
        return x
    x = ops.alias(x)  # carries x's tangents of the outer levels
    x.requires_grad = True
    return x


def _input_grad(gx, x):
    """A gradient a backward returned, as the engine would hand it on: x's shape and dtype."""
    gx = gx if hasattr(gx, "creator") else x.constant(gx)
    return ops.sum_to(ops.cast(gx, x.dtype), x.shape)
