"""Grad mode, anomaly mode and forward mode: whether Function calls record the graph, check
for NaN/inf, and carry tangents beside their values.

Thread-local, so one thread's ``no_grad()`` never silences another's training.
This is the only module-level state in chainrule.
"""

import contextlib
import threading


class _GradMode(threading.local):
    enabled = True  # every new thread starts recording
    anomaly = False  # and without anomaly checks
    levels = ()  # the open forward-mode levels (core/forward.py), outermost first
    batch = None  # the running vmap's Batch (chainrule/func/batching.py), or None
    tracer = None  # or an object told of each recorded call and backward step (viz.trace)
    # or a callable given every call's inputs, recorded or not: how checkpoint's forward,
    # run without recording, finds the weights its function reads (func/checkpoint.py)
    observer = None
    # Whether Function calls take the slow path (Function._dispatch), kept equal to
    # ``anomaly or levels or batch or tracer or observer`` by ``refresh()``: the plain path
    # tests this one flag alone.
    dispatch = False


grad_mode = _GradMode()


def refresh():
    """Recompute ``grad_mode.dispatch`` after a change to what the slow path serves."""
    grad_mode.dispatch = bool(grad_mode.anomaly or grad_mode.levels
                              or grad_mode.batch is not None or grad_mode.tracer is not None
                              or grad_mode.observer is not None)


def set_batch(batch):
    """Make ``batch`` the running vmap's (None: none runs); returns the previous one."""
    previous = grad_mode.batch
    grad_mode.batch = batch
    refresh()
    return previous


def is_grad_enabled():
    """True when Function calls record their inputs and outputs."""
    return grad_mode.enabled


def set_grad_enabled(enabled):
    """Switch recording on or off for this thread; returns the previous mode."""
    previous = grad_mode.enabled
    grad_mode.enabled = bool(enabled)
    return previous


@contextlib.contextmanager
def _switched(name, value):
    """``grad_mode.<name>`` set to ``value`` inside the block, restored after (a decorator too)."""
    previous = getattr(grad_mode, name)
    setattr(grad_mode, name, bool(value))
    refresh()
    try:
        yield
    finally:
        setattr(grad_mode, name, previous)
        refresh()


def no_grad():
    """Context manager: no graph is recorded inside (inference, optimizer updates).

    >>> with no_grad():
    ...     y = x * 2          # y.creator is None
    """
    return _switched("enabled", False)


def enable_grad():
    """Context manager: record the graph again inside a ``no_grad()`` block."""
    return _switched("enabled", True)


def is_anomaly_enabled():
    """True when every operation checks its results for NaN and inf (``detect_anomaly``)."""
    return grad_mode.anomaly


def set_detect_anomaly(mode):
    """Switch anomaly checks on or off for this thread; returns the previous mode."""
    previous = grad_mode.anomaly
    grad_mode.anomaly = bool(mode)
    refresh()
    return previous


def detect_anomaly(mode=True):
    """Context manager and decorator: find the operation that first makes a NaN or an inf.

    Inside, a forward whose output holds NaN or inf raises ``FloatingPointError``
    naming the operation, its input shapes and the line that called it; a backward
    that produces a NaN or inf gradient raises naming the operation and the line
    of its forward call. It costs a check per operation, so it is off by default::

        with chainrule.detect_anomaly():
            loss = model(x); loss.backward()
    """
    return _switched("anomaly", mode)
