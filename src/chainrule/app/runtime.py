"""What a training process sets up around its loop: BLAS threads, Ctrl-C, a progress bar."""

import contextlib
import signal
import sys
import threading

from chainrule import backend_threads
from chainrule.app.builders import ConfigError


@contextlib.contextmanager
def ctrl_c_between_steps():
    """Turn Ctrl-C into a request honoured after the current optimizer step.

    A KeyboardInterrupt raised at an arbitrary bytecode can land mid-update, or
    inside a finalizer that swallows it; a flag checked between steps cannot.
    A second Ctrl-C interrupts at once. Yields the Event that records the request;
    outside the main thread, where signals cannot be caught, it is never set.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def request_stop(signum, frame):
        requested.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


def blas_threads(n):
    """Limit NumPy's BLAS, and chainrule's own threads for large elementwise work
    (``chainrule.backend_threads``), to ``n`` threads inside the block (0: leave them alone).

    A network's small matrix products gain nothing from more threads, and on a
    busy machine BLAS threads waiting for each other made training 20x slower.
    The BLAS limit needs threadpoolctl (the ``[train]`` extra); without it BLAS keeps
    its own setting.
    """
    if n < 0:
        raise ConfigError(f"--threads must be 0 (BLAS default) or more, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=n or None, user_api="blas")
    return _elementwise_threads(n, limits)


@contextlib.contextmanager
def _elementwise_threads(n, inner):
    before = backend_threads.threads()
    if n:
        backend_threads.set_threads(n)
    try:
        with inner:
            yield
    finally:
        if n:
            backend_threads.set_threads(before)


def progress_bar(total, desc):
    """A tqdm bar counting examples (so its rate is the throughput), or None off a terminal."""
    if not sys.stderr.isatty():
        return None  # logs and pipes get the per-epoch lines alone
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="ex", unit_scale=True, leave=False,
                file=sys.stderr, dynamic_ncols=True)
