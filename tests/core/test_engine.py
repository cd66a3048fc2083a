import gc
import threading
import weakref

import numpy as np
import pytest

import chainrule as cr


class Square(cr.Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        (x,) = self.inputs
        return 2 * x * gy


class Exp(cr.Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]()


def test_seeds_square_exp_square_gives_3_297442541400256():
    x = cr.Variable(np.array(0.5))
    y = Square()(Exp()(Square()(x)))
    y.backward()
    assert x.grad.data == 3.297442541400256


def test_creator_links_walk_back_to_the_input():
    x = cr.Variable(np.array(0.5))
    a = Square()(x)
    b = Exp()(a)
    y = Square()(b)
    assert y.creator.inputs[0] is b
    assert y.creator.inputs[0].creator.inputs[0] is a
    assert a.creator.inputs[0] is x
    assert (x.generation, a.generation, b.generation, y.generation) == (0, 1, 2, 3)


def test_a_variable_used_twice_accumulates_its_gradient():
    x = cr.Variable(np.array(3.0))
    y = x + x
    y.backward()
    assert x.grad.data == 2.0


def test_diamond_graph_visits_each_function_once_in_generation_order():
    x = cr.Variable(np.array(2.0))
    a = Square()(x)
    y = Square()(a) + Square()(a)  # y = 2 x^4, dy/dx = 8 x^3
    y.backward()
    assert x.grad.data == 64.0


def test_backward_accumulates_into_leaf_grad_until_cleared():
    x = cr.Variable(np.array(3.0))
    (x * x).backward()
    (x * x).backward()
    assert x.grad.data == 12.0
    x.cleargrad()
    (x * x).backward()
    assert x.grad.data == 6.0


def test_intermediate_grads_are_dropped_unless_retained():
    x = cr.Variable(np.array(3.0))
    a = x * 2
    y = a * a
    y.backward()
    assert a.grad is None and y.grad is None
    x.cleargrad()
    y = (x * 2) * (x * 2)
    y.backward(retain_grad=True)
    assert y.grad.data == 1.0


def test_backward_without_create_graph_builds_no_graph():
    x = cr.Variable(np.array(3.0))
    (x * x * x).backward()
    assert x.grad.creator is None


def test_create_graph_gives_grad_a_creator_for_second_derivative():
    x = cr.Variable(np.array(3.0))
    y = x * x * x
    y.backward(create_graph=True)
    gx = x.grad
    assert gx.creator is not None
    x.cleargrad()
    gx.backward()
    assert x.grad.data == 18.0  # d2/dx2 x^3 = 6x


def test_grad_returns_gradients_without_touching_leaf_grads():
    x = cr.Variable(np.array(2.0))
    y = x**3
    (gx,) = cr.grad(y, [x], create_graph=True)
    assert gx.data == 12.0 and x.grad is None
    (ggx,) = cr.grad(gx, [x])
    assert ggx.data == 12.0


def test_grad_of_intermediate_variable_and_grad_outputs():
    x = cr.Variable(np.array([1.0, 2.0]))
    a = x * 3
    y = a * a
    (ga,) = cr.grad(y, [a], grad_outputs=[np.array([1.0, 10.0])])
    np.testing.assert_allclose(ga.data, [6.0, 120.0])


def test_grad_refuses_unused_input_unless_allowed():
    x, z = cr.Variable(np.array(1.0)), cr.Variable(np.array(1.0))
    with pytest.raises(ValueError, match="input 1 was not used"):
        cr.grad(x * 2, [x, z])
    assert cr.grad(x * 2, [x, z], allow_unused=True)[1] is None


def test_constants_get_no_gradient():
    x = cr.Variable(np.array(2.0))
    c = cr.Variable(np.array(5.0), requires_grad=False)
    (x * c).backward()
    assert c.grad is None and x.grad.data == 5.0


def test_broadcast_gradient_is_summed_to_each_input_shape():
    a = cr.Variable(np.ones((2, 3)))
    b = cr.Variable(np.ones((3,)))
    c = cr.Variable(np.ones((2, 1)))
    (a * b + c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (2, 1)
    np.testing.assert_allclose(b.grad.data, [2, 2, 2])
    np.testing.assert_allclose(c.grad.data, [[3], [3]])


def test_a_wrong_gradient_shape_names_the_function_and_both_shapes():
    class Broken(cr.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return cr.Variable(np.ones(7))

    x = cr.Variable(np.ones(3))
    message = r"broken: gradient of shape \(7,\) .* input of shape \(3,\)"
    with pytest.raises(ValueError, match=message):
        Broken()(x).backward()


def test_shape_mismatch_names_the_operation_both_shapes_and_the_user_line():
    message = r"add: shapes \(2, 3\) and \(4,\) do not broadcast \(test_engine.py:\d+\)"
    with pytest.raises(ValueError, match=message):
        cr.Variable(np.ones((2, 3))) + cr.Variable(np.ones(4))


def test_function_with_only_non_variable_inputs_raises_type_error():
    with pytest.raises(TypeError, match="square: needs a chainrule Variable"):
        Square()(np.ones(3))


def test_multi_output_function():
    class SplitHalves(cr.Function):
        def forward(self, x):
            return x[:2], x[2:]

        def backward(self, g0, g1):
            return cr.Variable(np.concatenate([g0.data, g1.data]))

    x = cr.Variable(np.arange(4.0))
    a, b = SplitHalves()(x)
    (a * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2, 2, 0, 0])


def test_chain_of_a_million_operations_backpropagates_without_recursion():
    x = cr.Variable(np.array(1.0))
    y = x
    for _ in range(1_000_000):
        y = -y
    y.backward()
    assert x.grad.data == 1.0
    del y


def test_graph_is_freed_by_reference_counting_alone():
    gc.disable()
    try:
        x = cr.Variable(np.array(1.0))
        y = Square()(Exp()(x))
        probe = weakref.ref(y.creator)
        del y
        assert probe() is None
    finally:
        gc.enable()


def test_no_grad_records_nothing_and_enable_grad_restores():
    x = cr.Variable(np.array(2.0))
    with cr.no_grad():
        y = x * x
        assert y.creator is None and not cr.is_grad_enabled()
        with cr.enable_grad():
            assert (x * x).creator is not None
    assert cr.is_grad_enabled() and (x * x).creator is not None


def test_grad_mode_is_thread_local():
    seen = []

    def worker():
        seen.append(cr.is_grad_enabled())

    with cr.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [True]


def test_backward_refuses_a_bare_boolean_meant_as_retain_grad():
    with pytest.raises(TypeError, match="retain_grad=True"):
        (cr.Variable(np.array(2.0)) * 3).backward(True)
