"""DistributedDataParallel: one model on every rank, gradients averaged while backward runs.

Construction checks that the ranks hold the same model and copies rank 0's parameters to
all. The parameters are then cut into buckets of about ``bucket_mb`` megabytes, in reverse
registration order: backward reaches the last layers first, so the first bucket fills
first. Each parameter's after-hook (``Variable.register_post_accumulate_grad_hook``: its
gradient is final) marks it ready; a bucket whose parameters are all ready is packed into
one flat array and its sum over the ranks starts at once, non-blocking (``Iallreduce``),
while backward goes on with the earlier layers. Buckets start in bucket order on every
rank, so the ranks' collectives always pair up.

The optimizer step needs every bucket. ``finish_gradient_synchronization()`` waits for
them, divides by the number of ranks and gives each parameter its averaged gradient; the
last bucket's start calls it, so when ``loss.backward()`` returns the gradients are
averaged and ``optimizer.step()`` (or gradient clipping) reads them as in one process.
When some parameter got no gradient (a layer this step did not use), backward ends with
buckets not yet started: call ``finish_gradient_synchronization()`` before the step, and
such parameters average zeros. A forward after a backward left unfinished raises.
"""

import contextlib

from chainrule.backend import get_array_module
from chainrule.core import Variable
from chainrule.distributed.collectives import start_allreduce
from chainrule.distributed.parameters import broadcast_parameters, check_same_model
from chainrule.distributed.world import world
from chainrule.nn import Module


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training: call it as the module; gradients average.

    >>> model = dist.DistributedDataParallel(Net(), bucket_mb=25)
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> loss = F.softmax_cross_entropy(model(xb), tb)     # xb: this rank's shard
    >>> opt.zero_grad(); loss.backward(); opt.step()      # every rank takes the same step

    ``model.module`` is the wrapped module (save its ``state_dict()`` for checkpoints that
    load without the wrapper). ``with model.no_sync(): ...`` accumulates gradients locally;
    the next backward outside it averages the sum. With one process it wraps and does
    nothing else.
    """

    def __init__(self, module, bucket_mb=25.0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, "
                            f"got {type(module).__name__}")
        if not bucket_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_mb must be positive, "
                             f"got {bucket_mb!r}")
        self.module = module
        self.bucket_mb = float(bucket_mb)
        w = world()
        self._world = w
        self._syncing = True
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = plan_buckets(params, bucket_mb)
        self._pass = None
        self._handles = []
        if w.size == 1:
            return
        check_same_model(module)
        broadcast_parameters(module)
        for index, bucket in enumerate(self._buckets):
            for p in bucket.params:
                self._handles.append(p.register_post_accumulate_grad_hook(
                    lambda p, index=index: self._ready(index)))

    def forward(self, *args, **kwargs):
        if self._pass is not None:
            names = self._missing_names()
            raise RuntimeError(
                "DistributedDataParallel: the last backward left gradients unaveraged "
                f"({', '.join(names[:4])}{' ...' if len(names) > 4 else ''} got none); "
                "call finish_gradient_synchronization() before optimizer.step()")
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward only accumulates gradients on this rank (gradient accumulation);
        the first backward after it averages the accumulated sums."""
        previous = self._syncing
        self._syncing = False
        try:
            yield
        finally:
            self._syncing = previous

    def finish_gradient_synchronization(self):
        """Wait for every bucket and give each parameter the gradient averaged over ranks.

        Buckets backward did not start (parameters without a gradient) start now, with
        zeros for the missing gradients. Does nothing when there is nothing pending.
        """
        state = self._pass
        if state is None:
            return
        while state.started < len(self._buckets):
            self._start(state)
        size = self._world.size
        for bucket, pending in zip(self._buckets, state.pending):
            bucket.unpack(pending.wait(), size)
        self._pass = None

    def _ready(self, index):
        """A parameter of bucket ``index`` has its final gradient (the engine's after-hook)."""
        if not self._syncing:
            return
        state = self._pass
        if state is None:
            state = self._pass = _Pass(len(self._buckets))
        state.ready[index] += 1
        for pending in state.pending[state.polled:]:  # MPI progresses inside MPI calls only
            if not pending.poll():
                break
            state.polled += 1
        buckets = self._buckets
        while state.started < len(buckets) and \
                state.ready[state.started] == len(buckets[state.started].params):
            self._start(state)
        if state.started == len(buckets):
            self.finish_gradient_synchronization()

    def _start(self, state):
        bucket = self._buckets[state.started]
        state.pending.append(start_allreduce(self._world, bucket.pack(), "sum", in_place=True))
        state.started += 1

    def _missing_names(self):
        names = {id(p): n for n, p in self.module.named_parameters()}
        state = self._pass
        return [names[id(p)] for i, b in enumerate(self._buckets) for p in b.params
                if i >= state.started and p.grad is None] or ["some parameters"]

    def extra_repr(self):
        return (f"world_size={self._world.size}, bucket_mb={self.bucket_mb:g}, "
                f"buckets={len(self._buckets)}")


class _Pass:
    """One backward's progress: parameters ready per bucket, buckets started, their results."""

    def __init__(self, n):
        self.ready, self.started, self.pending, self.polled = [0] * n, 0, [], 0


class Bucket:
    """Parameters whose gradients travel together as one flat array of one dtype.

    The flat array is made once and reused by every pass: MPICH reduced a reused 2.7 MB
    buffer in 0.8 ms where a fresh one took 16 ms (page faults and registration; 2 ranks on
    the loaded 2-core machine, bench/README). The averages are copied out of it into each
    parameter's gradient, so no gradient shares it.
    """

    def __init__(self, params):
        self.params = params
        self.dtype = params[0]._data.dtype
        self.sizes = [p._data.size for p in params]
        self.numel = sum(self.sizes)
        self.flat = None

    def pack(self):
        """The gradients, one after another in the bucket's array (zeros for a missing one)."""
        first = self.params[0]._data
        xp = get_array_module(first)
        flat = self.flat
        if flat is None or get_array_module(flat) is not xp:
            flat = self.flat = xp.empty(self.numel, dtype=self.dtype)
        start = 0
        for p, n in zip(self.params, self.sizes):
            if p.grad is None:
                flat[start:start + n] = 0
            else:
                flat[start:start + n] = p.grad._data.reshape(-1)
            start += n
        return flat

    def unpack(self, flat, size):
        """Each parameter's gradient becomes its part of ``flat`` (the sums) over ``size``.

        Written into the gradient's own array when it is a plain one of the right kind (the
        engine gives each leaf's .grad a buffer of its own); a new array otherwise.
        """
        start = 0
        for p, n in zip(self.params, self.sizes):
            part = flat[start:start + n].reshape(p._data.shape)
            start += n
            g = p.grad
            if g is not None and g.creator is None and g._data.dtype == part.dtype \
                    and g._data.shape == part.shape and get_array_module(g._data) is \
                    get_array_module(part):
                get_array_module(part).divide(part, size, out=g.data)  # a counted write
            else:
                p.grad = Variable(part / size, requires_grad=False)


def plan_buckets(params, bucket_mb):
    """Parameters in reverse registration order, cut into buckets of about ``bucket_mb``
    megabytes; a new bucket also starts where the dtype changes. A parameter larger than
    the limit is a bucket of its own."""
    limit = bucket_mb * 2**20
    buckets, current, nbytes = [], [], 0
    for p in reversed(params):
        size = p._data.nbytes
        if current and (nbytes + size > limit or p._data.dtype != current[0]._data.dtype):
            buckets.append(Bucket(current))
            current, nbytes = [], 0
        current.append(p)
        nbytes += size
    if current:
        buckets.append(Bucket(current))
    return buckets
