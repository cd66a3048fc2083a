"""The recorded trace: the real forward and backward, step by step, and the text of its steps."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule.core.mode import grad_mode
from chainrule.viz import expr, trace

APPLE = "(apple*apple_num + orange*orange_num)*tax"
PRICES = {"apple": 100, "apple_num": 2, "orange": 150, "orange_num": 3, "tax": 1.1}


def recorded_apple():
    with trace.record() as t:
        y, inputs = expr.evaluate(APPLE, PRICES)
        y.backward()
    return t, y, inputs


def test_forward_steps_are_the_calls_in_the_order_they_ran_with_their_values():
    t, y, _ = recorded_apple()
    assert [s.function.name for s in t.forward_steps] == ["mul", "mul", "add", "mul"]
    assert [float(s.values[0]) for s in t.forward_steps] == [200, 450, 650, y.data]
    assert t.forward_steps[-1].outputs[0] is y


def test_backward_steps_carry_upstream_local_derivative_and_product_as_the_seeds_write_them():
    t, y, inputs = recorded_apple()
    steps = t.backward_steps
    assert [s.function.name for s in steps] == ["mul", "add", "mul", "mul"]
    tax_step, add_step, apple_step, orange_step = steps
    assert float(tax_step.upstream[0]) == 1.0  # the seed: dL/dL = 1
    assert [(float(e.local), float(e.product)) for e in tax_step.edges] == [(1.1, 1.1),
                                                                           (650.0, 650.0)]
    assert [(float(e.local), float(e.product)) for e in add_step.edges] == [(1, 1.1), (1, 1.1)]
    assert float(apple_step.upstream[0]) == 1.1
    assert [float(e.product) for e in apple_step.edges] == [2.2, 110.00000000000001]
    assert [float(e.product) for e in orange_step.edges] == [3.3000000000000003, 165.0]
    assert {e.kind for s in steps for e in s.edges} == {"elementwise"}
    for name, x in inputs.items():  # the trace's sums are the engine's gradients, exactly
        assert t.grad_of(x) == x.grad.data, name


def test_backward_steps_follow_the_order_the_engine_really_ran():
    ran = []

    class Logged(cr.Function):
        def __init__(self, label):
            self.label = label

        def forward(self, x):
            return x * 1.0

        def backward(self, gy):
            ran.append(self.label)
            return gy

    x = cr.Variable(np.array(2.0))
    with trace.record() as t:
        a = Logged("a")(x)
        b = Logged("b")(x)
        c = Logged("c")(a * b)
        (c + a).backward()
    logged = [s.function.label for s in t.backward_steps if isinstance(s.function, Logged)]
    # each runs once in the engine; the trace's probes of its local derivative come after
    assert logged == list(dict.fromkeys(ran)) and sorted(logged) == ["a", "b", "c"]


def test_where_paths_meet_the_trace_shows_each_sum_as_the_engine_formed_it():
    x = cr.Variable(np.array(3.0), name="x")
    with trace.record() as t:
        y = x * x + x
        y.backward()
    add, mul = t.backward_steps
    assert not add.accumulations
    first, second = mul.accumulations
    assert (float(first.before), float(first.added), float(first.after)) == (1, 3, 4)
    assert (float(second.before), float(second.added), float(second.after)) == (4, 3, 7)
    assert t.grad_of(x) == x.grad.data == 7
    line = t.lines()[1]
    assert "paths meet at x: ∂L/∂x = 1 + 3 = 4" in line and "= 4 + 3 = 7" in line


@pytest.mark.parametrize("make, kinds", [
    (lambda a, b: a * b, ["elementwise", "elementwise"]),
    (lambda a, b: a * b.sum(), ["elementwise", "broadcast"]),
    (lambda a, b: F.softmax(a * b, axis=1), ["vjp"]),
    (lambda a, b: a @ b.T, ["vjp", "vjp"]),
])
def test_each_edge_says_whether_the_product_is_elementwise_or_a_vjp(make, kinds):
    rng = np.random.default_rng(0)
    a = cr.Variable(rng.normal(size=(2, 3)))
    b = cr.Variable(rng.normal(size=(2, 3)))
    with trace.record() as t:
        z = make(a, b)
        z.backward(cr.Variable(rng.normal(size=z.shape)))
    first = t.backward_steps[0]
    assert [e.kind for e in first.edges][:len(kinds)] == kinds


def test_a_broadcast_input_sums_the_elementwise_product_over_the_broadcast_axes():
    a = cr.Variable(np.array([1.0, 2.0, 3.0]), name="a")
    s = cr.Variable(np.array(2.0), name="s")
    with trace.record() as t:
        (a * s).backward(cr.Variable(np.array([1.0, 10.0, 100.0])))
    edge = t.backward_steps[0].edges[1]
    assert edge.kind == "broadcast"
    np.testing.assert_array_equal(edge.local, [1.0, 2.0, 3.0])
    assert float(edge.product) == s.grad.data == 321.0
    assert "∂L/∂s = Σ ∂L/∂L · ∂L/∂s = Σ [ 1., 10., 100.] · [1., 2., 3.] = 321" in t.lines()[0]


def test_recording_is_off_outside_the_block_and_for_the_backwards_own_graph():
    x = cr.Variable(np.array(0.5))
    with trace.record() as t:
        y = F.tanh(x) * x
        y.backward(create_graph=True)
    assert grad_mode.tracer is None
    assert [s.function.name for s in t.forward_steps] == ["tanh", "mul"]  # not backward's ops
    assert len(t.backward_steps) == 2
    z = x * 2
    z.backward()
    assert len(t.forward_steps) == 2 and len(t.backward_steps) == 2


def test_a_graph_computed_without_recording_is_traced_without_touching_any_grad():
    y, inputs = expr.evaluate(APPLE, PRICES)
    t = trace.trace_of([y])
    assert all(x.grad is None for x in inputs.values())
    assert [s.function.name for s in t.forward_steps] == ["mul", "mul", "add", "mul"]
    assert [float(t.grad_of(x)) for x in inputs.values()] == [2.2, 110.00000000000001,
                                                              3.3000000000000003, 165, 650]
    assert float(t.grad_of(y)) == 1.0


def test_trace_lines_show_the_hand_calculation_one_line_per_step():
    t, y, _ = recorded_apple()
    lines = t.lines()  # the one unnamed output is L
    assert len(lines) == 4
    assert lines[0].startswith("backward 1 / 4: mul")
    assert "∂L/∂L = 1" in lines[0] and "∂L/∂tax = ∂L/∂L · ∂L/∂tax = 1 · 650 = 650" in lines[0]
    assert "∂L/∂apple = ∂L/∂(apple·apple_num) · ∂(apple·apple_num)/∂apple = 1.1 · 2 = 2.2" \
        in lines[2]
    assert "1.1 · 150 = 165" in lines[3]


def test_big_arrays_are_described_by_shape_mean_and_max():
    from chainrule.viz.text import describe

    assert describe(np.arange(16.0)).count(",") == 15
    assert describe(np.ones((4, 5), np.float32)) == "(4, 5) float32 mean 1 max 1"


def test_outputs_of_a_split_are_named_apart_and_both_feed_its_step():
    x = cr.Variable(np.arange(6.0), name="x")
    with trace.record() as t:
        a, b = F.chunk(x, 2)
        (a * b).sum().backward()
    split = t.backward_steps[-1]
    assert [list(u) for u in split.upstream] == [[3, 4, 5], [0, 1, 2]]
    assert "∂L/∂x = (∂(z1[0], z1[1])/∂x)ᵀ ∂L/∂(z1[0], z1[1]) = [3., 4., 5., 0., 1., 2.]" \
        in t.lines()[-1]
