"""Forward-mode transforms: jvp, jacfwd, and the Hessians built forward over reverse.

Each opens a forward-mode level (core/forward.py), gives each argument leaf a tangent,
runs f once, and reads the outputs' tangents: J·ẋ for the price of about one more
forward pass, whatever the number of outputs.
"""

from chainrule.core import ops
from chainrule.core.forward import dual_level, make_dual, unpack_dual
from chainrule.func import batching
from chainrule.func.arguments import (
    as_input,
    outputs_of,
    positions,
    regroup,
    split_aux,
    zeros_like,
)
from chainrule.func.pytree import flatten
from chainrule.func.reverse import grad_and_value, jacrev, stacked


def jvp(f, primals, tangents, has_aux=False):
    """``(out, tangent_out)``: f at ``primals`` and its derivative along ``tangents``, J·ẋ.

    ``primals`` and ``tangents`` are tuples (one entry per argument of f, each a
    Variable, an array or a nest of them), a tangent shaped as its primal. ``tangent_out``
    is nested as ``out``. With ``has_aux=True`` f returns ``(out, aux)`` and jvp returns
    ``(out, tangent_out, aux)``::

        out, slope = jvp(F.sin, (x,), (Variable(np.ones(x.shape)),))    # cos x
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"jvp: primals and tangents must be tuples, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    with dual_level() as level:
        args = []
        for i, (p, t) in enumerate(zip(primals, tangents)):
            p_leaves, rebuild = flatten(p)
            t_leaves = flatten(t)[0]
            if len(t_leaves) != len(p_leaves):
                raise ValueError(f"jvp: primal {i} has {len(p_leaves)} Variables but its "
                                 f"tangent has {len(t_leaves)}")
            args.append(rebuild([_dual(x, v, i, level) for x, v in zip(p_leaves, t_leaves)]))
        out, aux = split_aux("jvp", f(*args), has_aux)
        outputs, rebuild = outputs_of("jvp", out)
        found = [unpack_dual(y, level).tangent for y in outputs]
    tangent_out = rebuild([_tangent_out(t, y) for t, y in zip(found, outputs)])
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)


def _dual(x, tangent, index, level):
    x = as_input("jvp", x, f"primal {index}")
    tangent = as_input("jvp", tangent, f"tangent {index}")
    if tangent.shape != x.shape:
        raise ValueError(f"jvp: tangent {index} has shape {tangent.shape} but its primal has "
                         f"shape {x.shape}")
    return make_dual(x, tangent, level)


def jacfwd(f, argnums=0, has_aux=False):
    """The Jacobian of f by forward mode: one forward pass per input element.

    Shaped as ``jacrev``'s (``out.shape + x.shape``) and equal to it; the cheap way for
    few inputs and many outputs (R^4 → R^1000: 4 passes). ``argnums`` and ``has_aux``
    as in ``grad``::

        J = jacfwd(lambda t: F.stack([F.cos(t), F.sin(t)]))(t)
    """

    def jacobian(*args, **kwargs):
        args = list(args)
        nums, single = positions("jacfwd", argnums, len(args))
        groups = []
        for i in nums:
            leaves, rebuild = flatten(args[i])
            groups.append(([as_input("jacfwd", x, f"argument {i}") for x in leaves], rebuild))
        inputs = [x for xs, _ in groups for x in xs]
        columns, out, aux = [], None, None
        for k, x in enumerate(inputs):
            columns.append([])
            n = int(x.size)  # inside vmap: one sample's size; the basis is one-hot per sample
            for j in range(n):
                basis = zeros_like(x)
                basis._data.reshape(-1, n)[:, j] = 1
                out, slopes, aux = _pass(f, args, groups, nums, k, basis, kwargs, has_aux)
                columns[k].append(slopes)
        if out is None:  # every input is empty: run f once for the output's shape
            out, _, aux = _pass(f, args, groups, nums, None, None, kwargs, has_aux)
        outputs, rebuild = outputs_of("jacfwd", out)
        blocks = [regroup(groups, [_columns([c[n] for c in columns[k]], y, x)
                                   for k, x in enumerate(inputs)], single)
                  for n, y in enumerate(outputs)]
        jac = rebuild(blocks)
        return (jac, aux) if has_aux else jac

    return jacobian


def _pass(f, args, groups, nums, chosen, basis, kwargs, has_aux):
    """One forward pass with input leaf number ``chosen`` moving along ``basis``:
    ``(out, tangent of each output leaf, aux)``."""
    args = list(args)
    with dual_level() as level:
        k = 0
        for i, (xs, rebuild) in zip(nums, groups):
            duals = []
            for x in xs:
                duals.append(make_dual(x, basis, level) if k == chosen else ops.alias(x))
                k += 1
            args[i] = rebuild(duals)
        out, aux = split_aux("jacfwd", f(*args, **kwargs), has_aux)
        outputs, _ = outputs_of("jacfwd", out)
        slopes = [unpack_dual(y, level).tangent for y in outputs]
    return out, [_tangent_out(t, y) for t, y in zip(slopes, outputs)], aux


def _tangent_out(t, y):
    """y's tangent as the transforms return it: zeros for none, batched as y inside vmap."""
    return zeros_like(y) if t is None else batching.like(t, y)


def _columns(columns, y, x):
    """Columns ∂y/∂x[j] (each y-shaped), one per element of x, as ∂y/∂x of y.shape + x.shape."""
    joined = stacked(columns, x.shape, y)  # x.shape + y.shape
    lead, tail = x.ndim, y.ndim
    return ops.transpose(joined, tuple(range(lead, lead + tail)) + tuple(range(lead)))


def hessian(f, argnums=0):
    """The Hessian of f (one number out), built as ``jacfwd(jacrev(f))``: forward over reverse.

    Of shape ``x.shape + x.shape``; for a quadratic form xᵀAx it is A + Aᵀ exactly::

        H = hessian(lambda x: x @ A @ x)(x)
    """
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f, primals, tangents, has_aux=False):
    """``(value, hvp_out)``: f (one number out) at ``primals`` and the Hessian-vector product
    H·v along ``tangents``, one per primal, as forward over reverse (jvp of grad): about
    the cost of two gradients, without forming H. With ``has_aux``: ``(value, hvp_out, aux)``.
    """
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"hvp: primals must be a tuple, got {type(primals).__name__}")
    argnums = tuple(range(len(primals)))
    gradient = grad_and_value(f, argnums=argnums, has_aux=has_aux)
    _, products, value = jvp(gradient, tuple(primals), tuple(tangents), has_aux=True)
    if has_aux:
        value, aux = value
        return value, products, aux
    return value, products
