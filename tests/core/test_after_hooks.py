"""The engine's after-hook: a leaf's ``.grad`` is final (``register_post_accumulate_grad_hook``).

Data-parallel training starts each bucket's allreduce from here, so the hook must run once
per pass, with the whole gradient, and before backward has finished the earlier layers.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F


def recorder(log, tag):
    return lambda v: log.append((tag, None if v.grad is None else v.grad.data.copy()))


class Logged(cr.Function):
    """Identity whose backward writes into a log: marks when backward reaches it."""

    def __init__(self, log):
        self.log = log

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        self.log.append(("backward reached the first layer", None))
        return gy


def test_hook_runs_once_with_the_sum_of_every_use_of_the_leaf():
    log = []
    w = cr.Variable(np.array([1.0, 2.0]))
    w.register_post_accumulate_grad_hook(recorder(log, "w"))
    (F.tanh(w * 3.0) * w + w).sum().backward()
    assert [tag for tag, _ in log] == ["w"]
    np.testing.assert_array_equal(log[0][1], w.grad.data)
    t = np.tanh(3 * w.data)
    np.testing.assert_allclose(w.grad.data, t + w.data * 3 * (1 - t**2) + 1)


def test_hook_of_a_late_layer_runs_before_backward_reaches_an_early_one():
    log = []
    x = cr.Variable(np.ones((2, 3)), requires_grad=False)
    w1, w2 = cr.Variable(np.ones((3, 3))), cr.Variable(np.ones((3, 1)))
    w1.register_post_accumulate_grad_hook(recorder(log, "w1"))
    w2.register_post_accumulate_grad_hook(recorder(log, "w2"))
    h = Logged(log)(F.tanh(x @ w1))
    (h @ w2).sum().backward()
    assert [tag for tag, _ in log] == ["w2", "backward reached the first layer", "w1"]


def test_hook_sees_the_gradient_accumulated_over_passes():
    log = []
    w = cr.Variable(np.array(2.0))
    w.register_post_accumulate_grad_hook(recorder(log, "w"))
    (w * 3.0).backward()
    (w * 3.0).backward()
    assert [g.item() for _, g in log] == [3.0, 6.0]


def test_leaf_whose_consumer_gives_no_gradient_gets_its_hook_at_the_end():
    class HalfBlind(cr.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            return gy * self.inputs[1], None  # no gradient for b through here

    log = []
    a, b = cr.Variable(np.array(2.0)), cr.Variable(np.array(5.0))
    b.register_post_accumulate_grad_hook(recorder(log, "b"))
    (HalfBlind()(a, b) + b).backward()
    assert [(tag, g.item()) for tag, g in log] == [("b", 1.0)]


def test_gradient_hooks_run_first_and_the_after_hook_sees_their_result():
    log = []
    w = cr.Variable(np.array(1.0))
    w.register_hook(lambda g: g * 10)
    w.register_post_accumulate_grad_hook(recorder(log, "w"))
    (w * 2.0).backward()
    assert [(tag, g.item()) for tag, g in log] == [("w", 20.0)]


def test_no_hook_for_grad_a_leaf_not_reached_or_a_removed_hook():
    log = []
    w, unused = cr.Variable(np.array(1.0)), cr.Variable(np.array(1.0))
    handle = w.register_post_accumulate_grad_hook(recorder(log, "w"))
    unused.register_post_accumulate_grad_hook(recorder(log, "unused"))
    cr.grad(w * 2.0, [w])  # writes no .grad: nothing accumulates
    assert log == []
    handle.remove()
    assert w._hooks is None
    (w * 2.0).backward()
    assert log == []


def test_only_a_leaf_that_needs_a_gradient_takes_an_after_hook():
    w = cr.Variable(np.array(1.0))
    with pytest.raises(RuntimeError, match="only a leaf"):
        (w * 2.0).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="only a leaf"):
        cr.Variable(np.array(1.0), requires_grad=False).register_post_accumulate_grad_hook(print)


def test_a_backward_without_after_hooks_never_counts_the_graph(monkeypatch):
    from chainrule.core import engine

    def refuse(outputs):
        raise AssertionError("counted a graph that has no after-hooks")

    monkeypatch.setattr(engine, "_edges_into_hooked_leaves", refuse)
    w = cr.Variable(np.array([1.0, 2.0]))
    w.register_hook(lambda g: g)  # gradient hooks alone do not count either
    (F.tanh(w) * w).sum().backward()
    assert w.grad is not None
