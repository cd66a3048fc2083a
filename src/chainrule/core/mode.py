"""Grad mode: whether calls to a Function record the graph.

Thread-local, so one thread's ``no_grad()`` never silences another's training.
This is the only module-level state in chainrule.
"""

import contextlib
import threading


class _GradMode(threading.local):
    enabled = True  # every new thread starts recording


grad_mode = _GradMode()


def is_grad_enabled():
    """True when Function calls record their inputs and outputs."""
    return grad_mode.enabled


def set_grad_enabled(enabled):
    """Switch recording on or off for this thread; returns the previous mode."""
    previous = grad_mode.enabled
    grad_mode.enabled = bool(enabled)
    return previous


@contextlib.contextmanager
def _grad_mode(enabled):
    previous = set_grad_enabled(enabled)
    try:
        yield
    finally:
        grad_mode.enabled = previous


def no_grad():
    """Context manager: no graph is recorded inside (inference, optimizer updates).

    >>> with no_grad():
    ...     y = x * 2          # y.creator is None
    """
    return _grad_mode(False)


def enable_grad():
    """Context manager: record the graph again inside a ``no_grad()`` block."""
    return _grad_mode(True)
