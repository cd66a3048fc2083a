"""Making the ranks start alike: one model and one optimizer state, copied from one rank,
and a check that every rank holds the same model before any gradient is averaged."""

from chainrule.core import no_grad
from chainrule.distributed.collectives import all_gather_object, broadcast, broadcast_object
from chainrule.distributed.world import world


def broadcast_parameters(module, root=0):
    """Copy rank ``root``'s parameters and buffers into ``module`` on every rank, in place.

    Every rank must hold a model of the same structure (``check_same_model`` says where two
    differ). Without MPI it does nothing.
    """
    if world().size == 1:
        return
    with no_grad():
        for _, p in module.named_parameters():
            p.data[...] = broadcast(p.data, root).astype(p.data.dtype, copy=False)
        for _, b in module.named_buffers():
            if b is not None:
                received = broadcast(b, root)
                b[...] = received


def broadcast_optimizer_state(optimizer, root=0):
    """Give every rank rank ``root``'s optimizer state (steps, moments, hyperparameters).

    After resuming from a checkpoint that only rank 0 read, this makes the other ranks'
    optimizers continue exactly as rank 0's would.
    """
    if world().size == 1:
        return
    state = broadcast_object(optimizer.state_dict() if world().rank == root else None, root)
    if world().rank != root:
        optimizer.load_state_dict(state)


def check_same_model(module, who="DistributedDataParallel"):
    """Raise ``ValueError`` on every rank when the ranks' models differ in their parameters'
    names, shapes or dtypes (the message names the first rank that differs and how); a
    mismatch caught here cannot leave the ranks waiting on allreduces of different sizes."""
    mine = signature(module)
    every = all_gather_object(mine)
    first = every[0]
    for r, theirs in enumerate(every[1:], start=1):
        if theirs == first:
            continue
        for i, (a, b) in enumerate(zip(first, theirs)):
            if a != b:
                what = (f"parameter {a[0]!r} is {_describe(b[1:])} on rank {r} but "
                        f"{_describe(a[1:])} on rank 0" if a[0] == b[0] else
                        f"entry {i} of the parameters and buffers is {b[0]!r} "
                        f"{_describe(b[1:])} on rank {r} but {a[0]!r} {_describe(a[1:])} "
                        "on rank 0")
                raise ValueError(f"{who}: the ranks hold different models: {what}")
        raise ValueError(f"{who}: the ranks hold different models: rank {r} has "
                         f"{len(theirs)} parameters and buffers, rank 0 {len(first)}")


def signature(module):
    """(name, shape, dtype) of each parameter and buffer, in order: what must match."""
    items = [(n, p.data) for n, p in module.named_parameters()]
    items += [(n, b) for n, b in module.named_buffers() if b is not None]
    return [(n, tuple(a.shape), str(a.dtype)) for n, a in items]


def _describe(entry):
    shape, dtype = entry
    return f"{dtype} of shape {shape}"
