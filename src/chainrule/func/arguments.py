"""What every transform does with its arguments and results: argnums, stand-ins, has_aux, checks.

A transform differentiates with respect to a stand-in for each argument leaf
(``ops.alias``: a new node over the same buffer), never the caller's Variable itself:
the caller's ``.grad`` stays untouched, transforms nest (each has its own stand-ins),
and an outer transform still reaches the argument through the stand-in's edge.
"""

from chainrule.backend import get_array_module
from chainrule.core import Variable, ops
from chainrule.func import batching
from chainrule.func.pytree import flatten


def positions(op, argnums, count):
    """``argnums`` as a tuple of indices into ``count`` arguments, and whether it was one int."""
    single = isinstance(argnums, int) and not isinstance(argnums, bool)
    nums = (argnums,) if single else argnums
    if not isinstance(nums, tuple) or not nums or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in nums):
        raise TypeError(f"{op}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r}")
    for a in nums:
        if not -count <= a < count:
            raise ValueError(f"{op}: argnums {a} is out of range for {count} positional "
                             f"argument{'s' if count != 1 else ''}")
    return tuple(a % count for a in nums), single


def as_input(op, x, where):
    """Leaf ``x`` (a Variable, an array or a number) as a floating Variable."""
    if not isinstance(x, Variable):
        try:
            x = Variable(x, requires_grad=False)
        except TypeError:
            raise TypeError(f"{op}: {where} must be a Variable or an array, "
                            f"got {_kind(x)}") from None
    if x.dtype.kind not in "fc":
        raise TypeError(f"{op}: {where} has dtype {x.dtype}; only floating Variables can be "
                        "differentiated")
    return x


def stand_in(x):
    """The node a transform differentiates with respect to, in place of argument leaf ``x``.

    Inside vmap an unbatched x is first repeated for every sample, so that each sample's
    gradient lands in its own row instead of being summed over the batch: that is what
    makes ``vmap(grad(f))`` per-sample (func/batching.py).
    """
    x = batching.repeated(x)
    w = ops.alias(x)
    if w.creator is None:  # x is outside any graph: w is a leaf of this transform's own
        w.requires_grad = True
    return w


def watch(op, args, argnums):
    """``(args, groups, single)``: args with a stand-in for each leaf of each argnum, the
    stand-ins grouped by argnum with the function that rebuilds that argument's nest."""
    args = list(args)
    nums, single = positions(op, argnums, len(args))
    groups = []
    for i in nums:
        leaves, rebuild = flatten(args[i])
        watched = [stand_in(as_input(op, x, f"argument {i}")) for x in leaves]
        args[i] = rebuild(watched)
        groups.append((watched, rebuild))
    return args, groups, single


def regroup(groups, found, single):
    """Per-leaf results (in the order of ``groups``' stand-ins) nested as the arguments were."""
    found = iter(found)
    results = [rebuild([next(found) for _ in watched]) for watched, rebuild in groups]
    return results[0] if single else tuple(results)


def split_aux(op, result, has_aux):
    """``(output, aux)`` from what f returned; aux is None without ``has_aux``."""
    if not has_aux:
        return result, None
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{op}: with has_aux=True, f must return a pair (output, aux), got "
                        f"{_kind(result)}")
    return result


def outputs_of(op, out):
    """The output's Variables and the function that rebuilds its nest; a clear error otherwise."""
    leaves, rebuild = flatten(out)
    for y in leaves:
        if not isinstance(y, Variable):
            raise TypeError(f"{op}: f must return a Variable (or a tuple, list or dict of them), "
                            f"got {_kind(out if y is out else y)}")
    if not leaves:
        raise TypeError(f"{op}: f returned no Variable")
    return leaves, rebuild


def zeros_like(x):
    """A zero gradient or tangent for ``x``, a constant: None never leaves a transform."""
    return batching.like(x._derived(get_array_module(x._data).zeros_like(x._data)), x)


def _kind(value):
    return type(value).__name__
