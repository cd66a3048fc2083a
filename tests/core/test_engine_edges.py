"""The engine under misuse and at its edges: gradient dtypes, unused outputs, wrong seeds,
retained grads, pruned grad(), and forward errors that keep their type."""

import gc
import traceback

import numpy as np
import pytest

import chainrule as cr
from chainrule.core import ops


def test_float32_leaf_divided_by_a_numpy_float64_scalar_keeps_a_float32_grad():
    x = cr.Variable(np.ones(3, dtype=np.float32))
    y = x / np.float64(2.0)
    assert y.dtype == np.float64  # NumPy's promotion in forward, as in NumPy
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (3,)
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5, 0.5])


def test_every_intermediate_gradient_has_its_variable_dtype():
    x = cr.Variable(np.ones((2, 3), dtype=np.float32))
    h = x * np.float64(3.0)  # float64
    z = ops.cast(h, np.float32) * np.ones(3, dtype=np.float64)  # float64 again
    z.backward(np.ones((2, 3)), retain_grad=True)
    assert h.grad.dtype == np.float64 and z.grad.dtype == np.float64
    assert x.grad.dtype == np.float32


def test_a_float64_seed_for_a_float32_output_gives_float32_grads():
    x = cr.Variable(np.ones(2, dtype=np.float32))
    y = x * 2
    y.backward(np.ones(2, dtype=np.float64), retain_grad=True)
    assert y.grad.dtype == np.float32 and x.grad.dtype == np.float32


def test_grad_dtype_rule_holds_for_create_graph_too():
    x = cr.Variable(np.array([1.0, 2.0], dtype=np.float32))
    (gx,) = cr.grad((x**3 / np.float64(3.0)).sum(), [x], create_graph=True)
    assert gx.dtype == np.float32
    (ggx,) = cr.grad(gx.sum(), [x])
    assert ggx.dtype == np.float32
    np.testing.assert_allclose(ggx.data, [2.0, 4.0])


class Split(cr.Function):
    """Two outputs of different dtypes, so a zero stand-in must get each one right."""

    def forward(self, x):
        return x[:2], x[2:].astype(np.float32)

    def backward(self, g0, g1):
        return cr.Variable(np.concatenate([g0.data, g1.data.astype(np.float64)]))


def test_multi_output_function_with_a_freed_unused_output_gets_zeros():
    x = cr.Variable(np.arange(5.0))
    a, b = Split()(x)
    del b
    gc.collect()
    (a * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 3, 0, 0, 0])


def test_zeros_for_an_unused_output_have_its_shape_and_dtype():
    seen = []

    class Spy(Split):
        def backward(self, g0, g1):
            seen.append((g1.shape, g1.dtype))
            return super().backward(g0, g1)

    x = cr.Variable(np.arange(5.0))
    a, b = Spy()(x)
    a.sum().backward()  # b alive, but no gradient reached it
    del b
    a2, _ = Spy()(x)
    a2.sum().backward()  # the second output was never kept
    assert seen == [((3,), np.float32), ((3,), np.float32)]


def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes():
    x = cr.Variable(np.ones(3))
    y = x * 2
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3,\)"):
        y.backward(np.ones((4, 3)))  # once summed silently: x.grad 4 times too big
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(3,\)"):
        cr.grad(y, [x], grad_outputs=[np.ones((1, 3))])
    assert x.grad is None


def test_backward_seed_of_the_right_shape_as_a_list_or_scalar_is_accepted():
    x = cr.Variable(np.array([1.0, 2.0]))
    (x * 2).backward([1.0, 10.0])
    np.testing.assert_allclose(x.grad.data, [2.0, 20.0])
    s = cr.Variable(np.array(3.0))
    (s * s).backward(2.0)
    assert s.grad.data == 12.0


def test_retained_intermediate_grads_accumulate_over_backward_calls_like_leaves():
    x = cr.Variable(np.array(3.0))
    h = x * 2
    y = h * h
    y.backward(retain_grad=True)
    y.backward(retain_grad=True)
    assert h.grad.data == 2 * (2 * 6.0) and x.grad.data == 2 * 24.0
    assert y.grad.data == 2.0


def test_grad_stops_at_the_requested_intermediate():
    calls = []

    class Tracked(cr.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            calls.append("below")
            return gy * 2

    x = cr.Variable(np.array(1.5))
    h = Tracked()(x) + 1
    side = cr.Variable(np.array(2.0))
    z = h * h + Tracked()(side)
    (gh,) = cr.grad(z, [h])
    assert gh.data == 2 * 4.0
    assert calls == []  # neither the function below h nor the branch beside it ran
    assert x.grad is None and side.grad is None


def test_grad_still_walks_below_a_requested_input_to_reach_another():
    x = cr.Variable(np.array(1.5))
    h = x * 2
    z = h * h
    gh, gx = cr.grad(z, [h, x])
    assert gh.data == 6.0 and gx.data == 12.0


def test_a_forward_error_keeps_its_numpy_type_names_the_op_and_keeps_the_user_line():
    with pytest.raises(TypeError) as numpy_says:
        np.array(["a", "b"]) * np.ones(2)  # NumPy's _UFuncNoLoopError, constructed unlike TypeError
    x = cr.Variable(np.array(["a", "b"]), requires_grad=False)
    w = cr.Variable(np.ones(2))
    with pytest.raises(TypeError) as info:
        ops.Mul()(x, w)
    error = info.value
    assert type(error) is type(numpy_says.value)
    text = str(error) + " ".join(getattr(error, "__notes__", []))
    assert "mul" in text and "(2,)" in text
    frames = [f.name for f in traceback.extract_tb(info.tb)]
    assert frames[0].startswith("test_a_forward_error_keeps_its_numpy_type")


def test_a_forward_value_error_is_restated_and_chained():
    a, b = cr.Variable(np.ones((2, 3))), cr.Variable(np.ones((4,)))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)") as info:
        a + b
    assert isinstance(info.value.__cause__, ValueError)
    assert "test_engine_edges.py" in "".join(traceback.format_tb(info.tb))
