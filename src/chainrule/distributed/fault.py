"""When one rank fails, end them all: no rank may wait forever on a collective."""

import contextlib
import sys
import time
import traceback

from chainrule.distributed.world import world

ABORT_GRACE_S = 0.2  # how long a failing rank waits for its message to leave before Abort


@contextlib.contextmanager
def abort_on_error(code=1):
    """Run the block; if it raises on this rank, say so and abort every rank.

    An uncaught error on one rank would leave the others blocked in their next allreduce.
    Instead this prints ``rank R failed: <error>`` and its traceback to stderr and calls
    MPI's ``Abort``, which ends every process of the job with a non-zero exit code (the
    launcher reports it). ``SystemExit(0)`` passes through; with one process every error
    passes through unchanged. Also a decorator::

        with dist.abort_on_error():
            train()
    """
    try:
        yield
    except SystemExit as exit_:
        if exit_.code in (None, 0) or world().size == 1:
            raise
        _abort(f"exited with status {exit_.code}", code if not isinstance(exit_.code, int)
               else exit_.code)
    except BaseException as error:
        if world().size == 1:
            raise
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        _abort(f"{type(error).__name__}: {error}", code, trace)


def _abort(what, code, trace=""):
    w = world()
    sys.stderr.write(f"{trace}rank {w.rank} failed: {what}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    # The message is in the pipe to the launcher's proxy, which forwards it when it next
    # reads; Abort kills that proxy too, and on a loaded machine it once did so first (the
    # fault test saw an empty stderr). A moment's grace lets it read: 0.2 s of a fault path.
    time.sleep(ABORT_GRACE_S)
    w.abort(code)
