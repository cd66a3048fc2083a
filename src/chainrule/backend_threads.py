"""Intra-op parallelism for large elementwise NumPy work: one call split over a few threads.

PyTorch runs a large elementwise op (relu, a bias add, pooling, an SGD update) on all of
its intra-op threads; a NumPy ufunc runs on one core. NumPy releases the GIL inside a
ufunc's inner loop, so plain Python threads can share such a call: ``split(fn, out,
*inputs)`` cuts ``out`` and its inputs into equal slabs along ``out``'s outermost axis in
memory and runs ``fn(out_slab, *input_slabs)`` on each, one slab on the calling thread
and the others on persistent workers. Every element is computed by the same ufunc loop as
without the split, so the result is the same bit for bit; only elementwise work may be
split (no reductions, no op that reads a neighbour). ``parallel_for(fn, length, nbytes)`` is
the primitive under it, for loops whose cuts write disjoint memory but are not one array
(a convolution's fold, each image on its own).

The number of threads follows the BLAS one: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``
or ``MKL_NUM_THREADS`` when set (the smallest of those set, so one thread per process where
bench/distributed.py asks for it), else the CPUs this process may run on. ``set_threads``
changes it. Work under ``MIN_BYTES`` runs on the calling thread: waking a worker costs
~15 µs, more than it saves on a small array.

What it buys depends on the machine. On bench's shared 2-core VM it buys nothing: waking its
idle second vCPU costs 51-55 µs and one core already saturates memory bandwidth (a 102 MB
fill: 4.8 ms on one thread, 4.2 on two), so cnn_step read 10.2-11.3 ms split against
9.7-13.4 unsplit; splits that keep losing pause themselves (``_Pool.judge``), which holds
the cost near 2%. It is kept for machines with more cores and bandwidth, where PyTorch's
own intra-op threads pay; ``set_threads(1)`` turns it off.

Safe with fork (a child starts without workers and makes its own on first use), with
threads (a call made while another thread is splitting runs unsplit) and at exit (the
workers are daemons, told to stop by an atexit hook).
"""

import atexit
import os
import threading
from _thread import allocate_lock
from time import perf_counter, thread_time

import numpy as np

ENV_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Below this many bytes written a split does not pay. On bench's 2-core machine a wake-up
# and report back (two bare-lock hand-offs) took 15 µs at best, relu on one thread 31 µs on
# 256 KiB and 150 µs on 1.6 MiB: half of 512 KiB saves about as much as the hand-off costs.
# (Measured under load from other jobs; with the second core busy elsewhere a split waits
# for it: relu on 1.6 MiB took 181 µs split against 150 unsplit. See bench/README.md.)
MIN_BYTES = 1 << 19


def default_threads():
    """Threads for elementwise work: the smallest BLAS/OpenMP thread setting, else the CPUs."""
    settings = []
    for name in ENV_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            settings.append(int(value))
    if settings:
        return min(settings)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity mask
        return os.cpu_count() or 1


class _Worker:
    """A daemon thread that runs one slab at a time: ``wake`` starts it, ``done`` reports back.

    Both are bare locks, held while idle: a release is the cheapest wake-up Python has.
    """

    def __init__(self):
        self.task = None
        self.error = None
        self.errstate = None  # NumPy's error handling is per thread: each task brings the caller's
        self.wake = allocate_lock()
        self.wake.acquire()
        self.done = allocate_lock()
        self.done.acquire()
        self.thread = threading.Thread(target=self.loop, name="chainrule-elementwise",
                                       daemon=True)
        self.thread.start()

    def loop(self):
        while True:
            self.wake.acquire()
            task, self.task = self.task, None
            if task is None:
                return
            fn, args, errstate = task
            try:
                if errstate != self.errstate:
                    np.seterr(**errstate)
                    self.errstate = errstate
                fn(*args)
            except BaseException as error:  # handed to the caller, raised there
                self.error = error
            # Hold no slab while idle: a view keeps its base alive, and scratch.result
            # reuses an array only once nothing refers to it.
            task = fn = args = None
            self.done.release()

    def stop(self):
        self.task = None
        self.wake.release()


class _Pool:
    # Splits lost in a row (net of wins) before pausing, and how many calls a pause lasts.
    LOSSES, PAUSE = 4, 200

    def __init__(self):
        self.threads = default_threads()
        self.workers = []
        self.busy = allocate_lock()  # held while a split runs; a concurrent call runs unsplit
        self.losses = 0
        self.paused = 0  # calls left to run unsplit

    def judge(self, took, alone):
        """After a split that ``took`` seconds, where one thread would have taken about
        ``alone`` (the CPU time of the caller's own cut, scaled to the whole range): pause
        splitting once splits keep losing. They lose when the other cores are busy with
        other work and a worker waits to be scheduled: on bench's 2-core machine under
        load 8, splitting made cnn_step 1.29x slower (median of 150 interleaved step pairs),
        and 1.30x with one other job running (load 2), where the caller's cut timed in
        wall time (stretched by a worker on its core) had hidden the losses.
        """
        if took > alone:
            self.losses += 1
            if self.losses >= self.LOSSES:
                self.losses, self.paused = 0, self.PAUSE
        elif self.losses:
            self.losses -= 1

    def ensure_workers(self):
        while len(self.workers) < self.threads - 1:
            self.workers.append(_Worker())
        return self.workers[:self.threads - 1]

    def stop(self):
        for worker in self.workers:
            worker.stop()
        self.workers = []


_pool = _Pool()


def threads():
    """How many threads ``split`` uses (the calling one included)."""
    return _pool.threads


def set_threads(n):
    """Use ``n`` threads for large elementwise work from now on (1: never split)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_threads: need at least 1 thread, got {n}")
    with _pool.busy:
        _pool.threads = n
        _pool.losses = _pool.paused = 0
        extra, _pool.workers = _pool.workers[n - 1:], _pool.workers[:n - 1]
        for worker in extra:
            worker.stop()


def _after_fork():
    """In a forked child the workers' threads do not exist: start from an empty pool."""
    global _pool
    threads = _pool.threads
    _pool = _Pool()
    _pool.threads = threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
atexit.register(lambda: _pool.stop())


def _split_axis(out, parts):
    """The axis of ``out`` to cut into slabs: its outermost in memory (so each slab is one
    stretch of it) at least ``parts`` long, or None."""
    order = range(out.ndim) if out.flags.c_contiguous else sorted(
        range(out.ndim), key=lambda i: -abs(out.strides[i]))
    return next((i for i in order if out.shape[i] >= parts), None)


def _may_race(out, inputs):
    """True when an input overlaps ``out`` without being ``out`` itself (same memory, same
    layout): then slabs of one could read what another thread is writing."""
    for a in inputs:
        if (a is not out and type(a) is np.ndarray and np.may_share_memory(a, out)
                and not (a.__array_interface__["data"][0] == out.__array_interface__["data"][0]
                         and a.strides == out.strides and a.shape == out.shape)):
            return True
    return False


def parallel_for(fn, length, nbytes):
    """``fn(lo, hi)`` for near-equal cuts ``[lo, hi)`` that cover ``range(length)``, on several
    threads when ``nbytes`` (the memory the whole loop writes) is large; ``fn(0, length)``
    otherwise.

    The cuts must write disjoint memory and read nothing another cut writes. NumPy's error
    handling (``np.errstate``) of the caller holds in every cut; the first error raised in
    any cut is raised here, after every cut has finished. Splits that stop paying are
    paused for a while (``_Pool.judge``).
    """
    pool = _pool
    parts = min(pool.threads, length)
    if parts < 2 or nbytes < MIN_BYTES or pool.paused or not pool.busy.acquire(False):
        if pool.paused:
            pool.paused -= 1
        fn(0, length)
        return
    try:
        workers = pool.ensure_workers()[:parts - 1]
        errstate = np.geterr()
        start = perf_counter()
        for k, worker in enumerate(workers, 1):
            worker.task = (fn, (length * k // parts, length * (k + 1) // parts), errstate)
            worker.wake.release()
        try:
            # The caller's cut in CPU time: a worker sharing the caller's core stretches the
            # cut's wall time, which would make a split that gained nothing look like a win.
            cpu = thread_time()
            fn(0, length // parts)
            mine = thread_time() - cpu
        finally:
            for worker in workers:
                worker.done.acquire()  # every cut is written before anyone reads
            errors = [worker.error for worker in workers if worker.error is not None]
            for worker in workers:
                worker.error = None
        if errors:
            raise errors[0]
        pool.judge(perf_counter() - start, mine * length / (length // parts))
    finally:
        pool.busy.release()


def split(fn, out, *inputs, nbytes=None):
    """``fn(out, *inputs)``, run as ``fn(out_slab, *input_slabs)`` on several threads when
    ``out`` is large (``parallel_for``). Returns ``out``.

    ``fn`` must be elementwise (each output element from the same-position input elements)
    and write its result into its first argument (and, if it likes, into input arrays of
    ``out``'s shape: each slab writes only its own cut). ``inputs`` are arrays broadcastable
    to ``out.shape`` (cut alongside it where they span the cut axis, left unbroadcast) or
    anything else (passed whole, e.g. a scalar).
    ``nbytes`` is the memory the call writes (default ``out.nbytes``; more when ``fn`` also
    writes work arrays). Unsplit when: one thread, ``nbytes`` small, ``out`` not a NumPy
    array, or ``out`` overlapping an input other than itself.
    """
    nbytes = out.nbytes if nbytes is None else nbytes
    if _pool.threads < 2 or type(out) is not np.ndarray or nbytes < MIN_BYTES:
        fn(out, *inputs)
        return out
    axis = _split_axis(out, 2)
    if axis is None or _may_race(out, inputs):
        fn(out, *inputs)
        return out
    # Arrays that span the cut axis are cut with out; the rest (scalars, arrays broadcast
    # along it) go whole. No np.broadcast_to: it costs ~5 µs and makes arrays read-only.
    shaped, spans = [], []
    for a in inputs:
        if isinstance(a, np.ndarray) and a.ndim < out.ndim:
            a = a.reshape((1,) * (out.ndim - a.ndim) + a.shape)
        shaped.append(a)
        spans.append(isinstance(a, np.ndarray) and a.shape[axis] != 1)
    before = (slice(None),) * axis

    def cut(lo, hi):
        where = before + (slice(lo, hi),)
        fn(out[where], *(a[where] if span else a for a, span in zip(shaped, spans)))

    parallel_for(cut, out.shape[axis], nbytes)
    return out


def ufunc(f, *inputs, out, **kwargs):
    """``f(*inputs, out=out, **kwargs)`` for an elementwise NumPy ufunc ``f``, split by
    ``split`` when ``out`` is large. Returns ``out``."""
    return split(lambda o, *a: f(*a, out=o, **kwargs), out, *inputs)
