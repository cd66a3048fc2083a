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


class Square(cr.Function):
    """y = x², its jvp given by ``slope`` (2 is right) and its backward right."""

    slope = 2.0

    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2.0 * gy * self.inputs[0]

    def jvp(self, tx):
        return self.slope * tx * self.inputs[0]


class WrongTangent(Square):
    slope = 3.0


class RightTangentWrongBackward(Square):
    def backward(self, gy):
        return gy * self.inputs[0]


def test_jvpcheck_passes_on_correct_rules_to_second_order():
    assert cr.jvpcheck(lambda x, y: Square()(x) * y / (x + 3) ** 2,
                       [np.random.rand(3), np.random.rand(3)], order=2)


def test_jvpcheck_names_the_element_and_both_values_of_a_wrong_tangent():
    with pytest.raises(cr.GradcheckError, match=r"jvpcheck: <lambda>, element \(\d,\): forward "
                                                r"mode .* vs numerical"):
        cr.jvpcheck(lambda v: WrongTangent()(v), [np.array([0.5, -1.0, 2.0])])


def test_jvpcheck_compares_forward_with_reverse_mode():
    # the tangent rule is right and the backward wrong: differences agree, reverse mode not
    with pytest.raises(cr.GradcheckError, match=r"from forward mode but .* from reverse mode"):
        cr.jvpcheck(lambda v: RightTangentWrongBackward()(v),
                    [np.array([0.5, -1.0, 2.0])])


def test_jvpcheck_order_two_runs_the_tangent_rules_of_the_backward():
    class WrongSecondTangent(Square):
        def backward(self, gy):  # 2x gy, right; but the tangent of x² inside it is 3x ẋ
            return 2.0 * WrongTangent()(self.inputs[0]) * gy / self.inputs[0]

    x = np.array([0.5, 1.5])
    assert cr.jvpcheck(lambda v: WrongSecondTangent()(v), [x], order=1)
    with pytest.raises(cr.GradcheckError, match="the gradient of"):
        cr.jvpcheck(lambda v: WrongSecondTangent()(v), [x], order=2)
