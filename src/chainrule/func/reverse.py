"""Reverse-mode transforms: grad, grad_and_value, vjp, jacrev (named and shaped as torch.func).

Each runs f on stand-ins for its arguments (func/arguments.py) with the graph recorded,
then one backward per output row. The results stay in the graph when an argument is in
one (it needs a gradient), so transforms nest: ``grad(grad(f))``, ``jacfwd(jacrev(f))``;
inside a forward-mode level they carry tangents (forward over reverse).
"""

import chainrule.functions as F
from chainrule.core import Variable, enable_grad, engine, ops
from chainrule.func import batching
from chainrule.func.arguments import outputs_of, regroup, split_aux, watch, zeros_like
from chainrule.func.pytree import flatten


def grad(f, argnums=0, has_aux=False):
    """The gradient of f, a function of Variables returning one number (a loss).

    ``grad(f)(x, y)`` is ∂f/∂x at (x, y), shaped as x; ``argnums=(0, 1)`` gives the
    tuple (∂f/∂x, ∂f/∂y); an argument may be a tuple, list or dict of Variables and
    its gradient comes back nested the same way. With ``has_aux=True`` f returns
    ``(loss, aux)`` and grad returns ``(gradient, aux)``::

        dloss = grad(lambda w, x: ((x @ w) ** 2).sum())(w, x)
    """

    def gradient(*args, **kwargs):
        found, _, aux = _grad_and_value("grad", f, argnums, has_aux, args, kwargs)
        return (found, aux) if has_aux else found

    return gradient


def grad_and_value(f, argnums=0, has_aux=False):
    """Like ``grad``, returning ``(gradient, value)``, or ``(gradient, (value, aux))``."""

    def gradient_and_value(*args, **kwargs):
        found, value, aux = _grad_and_value("grad_and_value", f, argnums, has_aux, args, kwargs)
        return found, ((value, aux) if has_aux else value)

    return gradient_and_value


def _grad_and_value(op, f, argnums, has_aux, args, kwargs):
    with enable_grad():
        args, groups, single = watch(op, args, argnums)
        value, aux = split_aux(op, f(*args, **kwargs), has_aux)
        if not isinstance(value, Variable):
            outputs_of(op, value)  # names what came back instead
            raise TypeError(f"{op}: f must return one Variable (a loss), got a "
                            f"{type(value).__name__}")
        if value.size != 1:
            raise ValueError(f"{op}: f must return a Variable of one element (a loss), got "
                             f"shape {value.shape}; use jacrev or vjp for more")
        watched = [w for ws, _ in groups for w in ws]
        found = _backward([value], watched, None)
    return regroup(groups, found, single), value, aux


def _backward(outputs, watched, seeds):
    """∂(Σ outputs · seeds)/∂watched, zeros for a stand-in the outputs do not reach.

    The graph of the backward is kept when a stand-in is itself in a graph (its argument
    needs a gradient), as torch.func keeps it: then the result differentiates again.
    """
    nested = any(w.creator is not None for w in watched)
    found = engine.grad(outputs, watched, grad_outputs=seeds, create_graph=nested,
                        allow_unused=True)
    return [zeros_like(w) if g is None else batching.like(g, w) for g, w in zip(found, watched)]


def vjp(f, *primals, has_aux=False):
    """``(out, vjp_fn)``: f's output at ``primals``, and ``vjp_fn(cotangents)``, which returns
    the tuple (uᵀ ∂f/∂primal for each primal), u shaped as out (a nest like out's).

    ``vjp_fn`` may be called again with other cotangents. With ``has_aux=True`` f returns
    ``(out, aux)`` and vjp returns ``(out, vjp_fn, aux)``::

        out, vjp_fn = vjp(F.tanh, x)
        (gx,) = vjp_fn(Variable(np.ones(x.shape)))
    """
    with enable_grad():
        args, groups, _ = watch("vjp", primals, tuple(range(len(primals))))
        out, aux = split_aux("vjp", f(*args), has_aux)
        outputs, _ = outputs_of("vjp", out)
    watched = [w for ws, _ in groups for w in ws]

    def vjp_fn(cotangents):
        seeds = flatten(cotangents)[0]
        if len(seeds) != len(outputs):
            raise ValueError(f"vjp: {len(seeds)} cotangents for {len(outputs)} outputs")
        seeds = [_cotangent(u, y, i) for i, (u, y) in enumerate(zip(seeds, outputs))]
        with enable_grad():
            return regroup(groups, _backward(outputs, watched, seeds), single=False)

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _cotangent(u, y, index):
    u = u if isinstance(u, Variable) else y.constant(u)
    if u.shape != y.shape:
        raise ValueError(f"vjp: cotangent {index} has shape {u.shape} but its output has "
                         f"shape {y.shape}")
    return ops.cast(u, y.dtype)


def jacrev(f, argnums=0, has_aux=False):
    """The Jacobian of f by reverse mode: one backward per output element.

    ``jacrev(f)(x)[i..., j...]`` = ∂f(x)[i...]/∂x[j...], of shape ``out.shape + x.shape``;
    the cheap way for few outputs and many inputs (R^1000 → R^4: 4 backward passes).
    ``argnums`` and ``has_aux`` as in ``grad``; an output nest gives a Jacobian per leaf,
    nested as the output::

        J = jacrev(lambda x: F.tanh(W @ x))(x)      # (m, n)
    """

    def jacobian(*args, **kwargs):
        with enable_grad():
            args, groups, single = watch("jacrev", args, argnums)
            out, aux = split_aux("jacrev", f(*args, **kwargs), has_aux)
            outputs, rebuild = outputs_of("jacrev", out)
            watched = [w for ws, _ in groups for w in ws]
            blocks = [regroup(groups, _rows(y, watched), single) for y in outputs]
        jac = rebuild(blocks)
        return (jac, aux) if has_aux else jac

    return jacobian


def _rows(y, watched):
    """∂y/∂w for each stand-in w, of shape y.shape + w.shape, one backward per element of y."""
    rows, n = [], int(y.size)  # inside vmap: one sample's size; the seed is one-hot per sample
    for i in range(n):
        seed = zeros_like(y)
        seed._data.reshape(-1, n)[:, i] = 1
        rows.append(_backward([y], watched, [seed]))
    return [stacked([row[k] for row in rows], y.shape, w) for k, w in enumerate(watched)]


def stacked(parts, lead, x):
    """``parts`` (one per element of a ``lead``-shaped array, each shaped as x) as one
    Variable of shape lead + x.shape."""
    if not parts:
        return x._derived(x._data.reshape(-1)[:0].reshape(tuple(lead) + x.shape))
    return ops.reshape(F.stack(parts), tuple(lead) + x.shape)
