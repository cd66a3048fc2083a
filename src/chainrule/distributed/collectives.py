"""Collectives on chainrule arrays: all_reduce, broadcast, all_gather, and their transport.

Each takes what the training loop holds (a Variable, a NumPy or CuPy array, or a Python
number) and gives back the same kind; the input is never changed. NumPy arrays go to MPI
as they are. CuPy arrays go through host memory, unless ``cupy.cuda.nccl`` is there: then
sums and maxima of floating and integer arrays run on the GPUs with NCCL, whose
communicator is made once, from an id that MPI hands round. Every rank must call the same
collectives in the same order, with arrays of the same shape and dtype (``all_gather``
alone accepts different first dimensions).
"""

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import Variable
from chainrule.distributed.world import world

OPS = ("sum", "mean", "max", "min")


def all_reduce(x, op="sum"):
    """The elementwise ``op`` (``"sum"``, ``"mean"``, ``"max"``, ``"min"``) of ``x`` over ranks.

    >>> correct = dist.all_reduce(correct)                 # a count summed over ranks
    >>> loss = dist.all_reduce(loss.item(), op="mean")
    """
    if op not in OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(OPS)}, got {op!r}")
    array, wrap = _unwrap(x, "all_reduce")
    w = world()
    result = array.copy() if w.size == 1 else start_allreduce(w, array, op).wait()
    if op == "mean":
        result = result / w.size if result.dtype.kind in "fc" else result / np.float64(w.size)
    return wrap(result)


def broadcast(x, root=0):
    """Rank ``root``'s value of ``x``, on every rank (each passes an ``x`` of that shape).

    >>> w = dist.broadcast(w, root=0)
    """
    array, wrap = _unwrap(x, "broadcast")
    w = world()
    _check_root(w, root, "broadcast")
    if w.size == 1:
        return wrap(array.copy())
    xp = get_array_module(array)
    if xp is not np and _nccl_type(w, array) is not None:
        out = xp.array(array, copy=True)
        stream = xp.cuda.get_current_stream()
        w.nccl.bcast(out.data.ptr, out.size, _nccl_type(w, out), root, stream.ptr)
        stream.synchronize()
        return wrap(out)
    host = np.array(_host(array), copy=True, order="C")
    w.wait(w.comm.Ibcast(host, root=root))
    return wrap(host if xp is np else xp.asarray(host))


def all_gather(x):
    """A list of every rank's ``x``, in rank order; first dimensions may differ by rank.

    >>> predictions = np.concatenate(dist.all_gather(local_predictions))
    """
    array, wrap = _unwrap(x, "all_gather")
    w = world()
    if w.size == 1:
        return [wrap(array.copy())]
    xp = get_array_module(array)
    host = np.ascontiguousarray(_host(array))
    shapes = w.comm.allgather((host.shape, host.dtype.str))
    if any(s[1:] != shapes[0][0][1:] or d != shapes[0][1] for s, d in shapes):
        mine = ", ".join(f"rank {r}: {s} {np.dtype(d)}" for r, (s, d) in enumerate(shapes))
        raise ValueError(f"all_gather: the ranks' arrays differ beyond the first dimension "
                         f"({mine})")
    counts = [int(np.prod(s)) for s, _ in shapes]
    flat = np.empty(sum(counts), dtype=host.dtype)
    w.comm.Allgatherv(host.reshape(-1), [flat, counts])
    parts = np.split(flat, np.cumsum(counts)[:-1])
    return [wrap(part.reshape(s) if xp is np else xp.asarray(part.reshape(s)))
            for part, (s, _) in zip(parts, shapes)]


def broadcast_object(obj, root=0):
    """Rank ``root``'s ``obj`` (any picklable value) on every rank: settings, a resumed step."""
    w = world()
    _check_root(w, root, "broadcast_object")
    return obj if w.size == 1 else w.comm.bcast(obj, root=root)


def all_gather_object(obj):
    """A list of every rank's ``obj`` (any picklable value), in rank order."""
    w = world()
    return [obj] if w.size == 1 else w.comm.allgather(obj)


# ---- transport --------------------------------------------------------------------------
class Pending:
    """A reduction under way; ``wait()`` gives its result, an array on ``array``'s device.

    ``poll()`` lets MPI move it along: MPICH makes progress on a non-blocking collective
    only inside MPI calls, so without polls the whole allreduce would happen in ``wait``.
    """

    def __init__(self, wait, poll=None):
        self._wait, self._result, self.poll = wait, None, poll or _nothing

    def wait(self):
        if self._wait is not None:
            self._result, self._wait = self._wait(), None
        return self._result


def start_allreduce(w, array, op="sum", in_place=False):
    """Start reducing ``array`` (sum for ``"mean"``: the caller divides) over the ranks.

    Returns a ``Pending`` at once: MPI's ``Iallreduce`` on a host copy, or NCCL's allReduce
    queued on the current CUDA stream. ``array`` itself is not written, unless ``in_place``
    (then a NumPy array is reduced where it lies: DDP's buckets reuse one buffer, which
    MPICH reduces several times faster than a freshly allocated one).
    """
    xp = get_array_module(array)
    nccl_type = _nccl_type(w, array) if xp is not np and op != "min" else None
    if nccl_type is not None:
        return _start_nccl(w, xp, array, op, nccl_type, in_place)
    if in_place and xp is np and array.flags.c_contiguous:
        host = array
    else:
        host = np.array(_host(array), copy=True, order="C")
    request = w.comm.Iallreduce(w.MPI.IN_PLACE, host, op=_mpi_op(w.MPI, op))

    def finish():
        w.wait(request)
        return host if xp is np else xp.asarray(host)

    return Pending(finish, request.Test)


def _nothing():
    return True


def _start_nccl(w, cp, array, op, nccl_type, in_place):
    from cupy.cuda import nccl

    out = array if in_place and array.flags.c_contiguous else cp.array(array, order="C")
    stream = cp.cuda.get_current_stream()
    code = nccl.NCCL_MAX if op == "max" else nccl.NCCL_SUM
    w.nccl.allReduce(out.data.ptr, out.data.ptr, out.size, nccl_type, code, stream.ptr)
    done = stream.record()

    def finish():
        done.synchronize()
        return out

    return Pending(finish)


def _nccl_type(w, array):
    """NCCL's code for ``array``'s dtype when NCCL can carry it, else None (go by host).

    The communicator is made on first use, a collective call: every rank reaches here with
    a CuPy array at the same point of the program.
    """
    try:
        from cupy.cuda import nccl
    except ImportError:
        return None
    if not getattr(nccl, "available", True):
        return None
    codes = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
             "int32": "NCCL_INT32", "int64": "NCCL_INT64"}
    name = codes.get(str(array.dtype))
    if name is None:
        return None
    if getattr(w, "nccl", None) is None:
        uid = w.comm.bcast(nccl.get_unique_id() if w.rank == 0 else None, root=0)
        w.nccl = nccl.NcclCommunicator(w.size, uid, w.rank)
    return getattr(nccl, name)


def _mpi_op(MPI, op):
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]


def _host(array):
    """``array`` in host memory (a CuPy array is copied down)."""
    return array if get_array_module(array) is np else array.get()


def _check_root(w, root, who):
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) \
            or not 0 <= root < w.size:
        raise ValueError(f"{who}: root must be a rank from 0 to {w.size - 1}, got {root!r}")


def _unwrap(x, who):
    """``x``'s array, and how to give a result back as the kind of thing ``x`` was."""
    if isinstance(x, Variable):
        return np.asarray(x._data) if get_array_module(x._data) is np else x._data, \
            lambda a: Variable(a, requires_grad=False)
    if isinstance(x, (bool, int, float, np.generic)):
        array = np.asarray(x)
        return array, lambda a: a.item()
    xp = get_array_module(x)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return (np.asarray(x) if xp is np else x), lambda a: a
    raise TypeError(f"{who}: expected a Variable, an array or a number, "
                    f"got {type(x).__name__}")
