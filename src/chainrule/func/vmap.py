"""vmap: a function of one sample made a function of a batch, as torch.func.vmap.

``vmap(f, in_dims, out_dims)(*args)`` moves each batched argument's ``in_dim`` to the front,
runs ``f`` once with the batch switched on (func/batching.py: every operation is a batched
one), and moves the batch of each output to its ``out_dim``. ``in_dims`` is one entry for
all arguments or one per argument; an entry is an int (the batch axis), None (the argument
is the same for every sample), or a tuple/list/dict matching a nested argument. A vmap
inside a vmap runs with the two batches folded into one of size B1·B2.
"""

import functools

import numpy as np

from chainrule.core import ops
from chainrule.core.mode import grad_mode, set_batch
from chainrule.core.variable import Variable
from chainrule.func import (  # noqa: F401 -- they register the rules
    batch_rules,
    batch_rules_nn,
    batch_wrappers,
)
from chainrule.func.batching import Batch, BatchedVariable


def vmap(f, in_dims=0, out_dims=0):
    """``f`` mapped over a batch axis of its arguments: ``vmap(f)(x)[i] == f(x[i])``.

    Per-sample gradients, each sample's gradient of a loss in one batched pass::

        per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, t)
    """
    @functools.wraps(f)
    def vmapped(*args, **kwargs):  # keyword arguments are the same for every sample
        return _run(f, in_dims, out_dims, args, kwargs)
    return vmapped


def _run(f, in_dims, out_dims, args, kwargs):
    if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
        raise ValueError(f"vmap: in_dims has {len(in_dims)} entries but "
                         f"{getattr(f, '__name__', 'the function')} got {len(args)} arguments")
    dims = in_dims if isinstance(in_dims, (tuple, list)) else [in_dims] * len(args)
    leaves = []
    args = [_leaves(a, d, f"argument {i}", leaves) for i, (a, d) in enumerate(zip(args, dims))]
    sizes = {}
    for where, x, dim in leaves:
        sizes.setdefault(x.shape[dim], where)
    if not sizes:
        raise ValueError("vmap: no argument is batched (in_dims are all None); give at least "
                         "one argument a batch axis")
    if len(sizes) > 1:
        told = " and ".join(f"{n} ({where})" for n, where in sizes.items())
        raise ValueError(f"vmap: in_dims give different batch sizes {told}; they must agree")
    (size,) = sizes
    outer = grad_mode.batch
    batch = Batch(size if outer is None else outer.size * size, outer)
    moved = {id(x): _to_front(batch, outer, x, dim, size) for _, x, dim in leaves}
    args = [_replace(a, moved) for a in args]
    with batch:
        out = f(*args, **kwargs)
    return _outputs(batch, outer, size, out, out_dims)


def _leaves(arg, dim, where, leaves):
    """``arg`` with its batched leaves made Variables, each noted in ``leaves``."""
    if isinstance(dim, (tuple, list, dict)):
        if type(arg) is not type(dim) and not (isinstance(arg, (tuple, list))
                                               and isinstance(dim, (tuple, list))):
            raise ValueError(f"vmap: in_dims for {where} is a {type(dim).__name__} but the "
                             f"argument is a {type(arg).__name__}")
        if len(arg) != len(dim) or (isinstance(dim, dict) and set(arg) != set(dim)):
            raise ValueError(f"vmap: in_dims for {where} has {len(dim)} entries but the "
                             f"argument has {len(arg)}")
        keys = dim.keys() if isinstance(dim, dict) else range(len(dim))
        items = {k: _leaves(arg[k], dim[k], f"{where}[{k!r}]", leaves) for k in keys}
        return items if isinstance(arg, dict) else type(arg)(items[k] for k in keys)
    if isinstance(arg, (tuple, list, dict)):
        keys = arg.keys() if isinstance(arg, dict) else range(len(arg))
        items = {k: _leaves(arg[k], dim, f"{where}[{k!r}]", leaves) for k in keys}
        return items if isinstance(arg, dict) else type(arg)(items[k] for k in keys)
    if dim is None:
        return arg
    if not isinstance(dim, int):
        raise TypeError(f"vmap: in_dims entries are ints or None, got {dim!r} for {where}")
    if not isinstance(arg, Variable):
        if not isinstance(arg, np.ndarray):
            raise TypeError(f"vmap: {where} has in_dim {dim} but is a {type(arg).__name__}, "
                            "not a Variable or an array")
        arg = Variable(arg, requires_grad=False)
    ndim = arg.ndim
    if not -ndim <= dim < ndim:
        raise ValueError(f"vmap: in_dim {dim} is out of range for {where} of shape {arg.shape}")
    leaves.append((where, arg, dim % ndim))
    return arg


def _replace(arg, moved):
    if isinstance(arg, dict):
        return {k: _replace(v, moved) for k, v in arg.items()}
    if isinstance(arg, (tuple, list)):
        return type(arg)(_replace(v, moved) for v in arg)
    return moved.get(id(arg), arg)


def _to_front(batch, outer, x, dim, size):
    """x with its batch axis ``dim`` in front, as one of ``batch``'s Variables (inside an
    outer vmap: the outer batch first, folded with this one)."""
    previous = set_batch(None)
    try:
        if outer is not None and type(x) is outer.variable:
            y = ops.transpose(x, _moved_axes(x.ndim, dim + 1, 1))
            y = ops.reshape(y, (batch.size,) + y.shape[2:])
        else:
            if outer is not None and isinstance(x, BatchedVariable):
                raise ValueError("vmap: an argument was batched by a vmap that has finished")
            y = ops.transpose(x, _moved_axes(x.ndim, dim, 0))  # a new node even when dim = 0
            if outer is not None:  # the same sample for every outer one
                y = ops.broadcast_to(ops.reshape(y, (1,) + y.shape), (outer.size,) + y.shape)
                y = ops.reshape(y, (batch.size,) + y.shape[2:])
        return batch.mark(y)
    finally:
        set_batch(previous)


def _moved_axes(ndim, source, target):
    axes = [a for a in range(ndim) if a != source]
    axes.insert(target, source)
    return tuple(axes)


def _outputs(batch, outer, size, out, out_dims):
    """f's outputs with their batch moved to ``out_dims`` (as nested as the outputs)."""
    single = not isinstance(out, (tuple, list, dict))
    outs = [out] if single else out
    if isinstance(out_dims, (tuple, list)) and not isinstance(out, dict):
        if single or len(out_dims) != len(outs):
            raise ValueError(f"vmap: out_dims has {len(out_dims)} entries but the function "
                             f"returned {1 if single else len(outs)} outputs")
    previous = set_batch(None)
    try:
        return _place(batch, outer, size, out, out_dims, "output")
    finally:
        set_batch(previous)


def _place(batch, outer, size, out, dim, where):
    if isinstance(out, dict):
        return {k: _place(batch, outer, size, v, dim[k] if isinstance(dim, dict) else dim,
                          f"{where} {k!r}") for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        dims = dim if isinstance(dim, (tuple, list)) else [dim] * len(out)
        return type(out)(_place(batch, outer, size, v, d, f"{where} {i}")
                         for i, (v, d) in enumerate(zip(out, dims)))
    if not isinstance(out, Variable):
        raise TypeError(f"vmap: the function must return Variables (or tuples, lists or "
                        f"dicts of them), but {where} is a {type(out).__name__}")
    if not batch.holds(out):
        if dim is None:
            return out
        out = ops.broadcast_to(ops.reshape(out, (1,) + out.shape), (batch.size,) + out.shape)
    elif dim is None:
        raise ValueError(f"vmap: out_dims is None for {where}, but it differs per sample")
    ndim = out._data.ndim - 1
    if not -ndim - 1 <= dim <= ndim:
        raise ValueError(f"vmap: out_dim {dim} is out of range for {where}, which has "
                         f"{ndim} axes per sample")
    dim %= ndim + 1
    if outer is None:
        y = ops.transpose(out, _moved_axes(ndim + 1, 0, dim)) if dim else out
        y.__class__ = Variable
        return y
    shape = out._data.shape  # (B1·B2, ...) -> (B1, B2, ...), B2 to dim after B1
    y = ops.reshape(out, (outer.size, size) + shape[1:])
    y = ops.transpose(y, _moved_axes(ndim + 2, 1, dim + 1)) if dim else y
    return outer.mark(y)
