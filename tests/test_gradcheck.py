import numpy as np
import pytest

import chainrule as cr


class WrongBackward(cr.Function):
    """y = x²  with the gradient off by a factor of two."""

    def forward(self, x):
        return x**2

    def backward(self, gy):
        return gy * self.inputs[0]


class WrongSecondOrder(cr.Function):
    """y = x³ whose first derivative is right but is not differentiable correctly again."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        (x,) = self.inputs
        return gy * cr.Variable(3 * x.data**2)  # a constant: the second order is lost


def test_numerical_grad_of_a_product():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ga, gb = cr.numerical_grad(lambda x, y: x * y, [a, b])
    np.testing.assert_allclose(ga, b, rtol=1e-8)
    np.testing.assert_allclose(gb, a, rtol=1e-8)


def test_gradcheck_passes_on_correct_rules_to_second_order():
    assert cr.gradcheck(lambda x, y: x * y / (x + 3) ** 2, [np.random.rand(3), np.random.rand(3)],
                        order=2)


def test_gradcheck_names_function_input_element_and_values():
    x = np.array([0.5, -1.0, 2.0])
    message = r"input 0, element \(2,\): analytic 2 vs numerical 4"
    with pytest.raises(cr.GradcheckError, match=message):
        cr.gradcheck(lambda v: WrongBackward()(v), [x], grad_output=np.ones(3))


def test_gradcheck_order_two_catches_a_gradient_that_is_not_differentiable():
    x = np.array([0.5, 1.5])
    assert cr.gradcheck(lambda v: WrongSecondOrder()(v), [x], order=1)
    with pytest.raises(cr.GradcheckError, match="the gradient of"):
        cr.gradcheck(lambda v: WrongSecondOrder()(v), [x], order=2)


def test_integer_inputs_are_treated_as_constants():
    x = np.random.rand(4, 3)
    index = np.array([0, 2, 2])
    assert cr.gradcheck(lambda v, i: v[i.data], [x, index], order=2)
