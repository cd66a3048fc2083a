"""The expression parser behind ``chainrule graph``: the allowed subset, exact numbers, refusals."""

import numpy as np
import pytest

from chainrule.viz import expr

APPLE = "(apple*apple_num + orange*orange_num)*tax"
PRICES = {"apple": 100, "apple_num": 2, "orange": 150, "orange_num": 3, "tax": 1.1}


def test_apple_and_orange_graph_gives_the_seeds_numbers():
    y, inputs = expr.evaluate(APPLE, PRICES)
    y.backward()
    assert y.data.item() == 715.0000000000001
    grads = {name: v.grad.data.item() for name, v in inputs.items()}
    assert grads == {"apple": 2.2, "apple_num": 110.00000000000001,
                     "orange": 3.3000000000000003, "orange_num": 165.0, "tax": 650.0}


def test_names_are_listed_in_order_of_first_use():
    assert expr.names(APPLE) == ["apple", "apple_num", "orange", "orange_num", "tax"]
    assert expr.names("F.exp(x) * F.sum(y, axis=0) + x") == ["x", "y"]


def test_inputs_are_named_float64_leaves():
    _, inputs = expr.evaluate("x * 2", {"x": 3})
    assert inputs["x"].name == "x"
    assert inputs["x"].dtype == np.float64
    assert inputs["x"].creator is None


def test_unary_minus_division_and_power_differentiate():
    y, inputs = expr.evaluate("-x ** 2 / y + +y", {"x": 3.0, "y": 2.0})
    y.backward()
    assert y.data.item() == pytest.approx(-4.5 + 2.0)
    assert inputs["x"].grad.data.item() == pytest.approx(-3.0)  # -2x / y
    assert inputs["y"].grad.data.item() == pytest.approx(9 / 4 + 1)  # x² / y² + 1


def test_function_calls_reach_chainrule_functions_with_number_arguments():
    y, inputs = expr.evaluate("F.sum(F.exp(x), axis=0)", {"x": [0.0, 1.0]})
    y.backward()
    assert y.data.item() == pytest.approx(1 + np.e)
    np.testing.assert_allclose(inputs["x"].grad.data, [1.0, np.e])


def test_integer_constants_cannot_blow_up():
    with pytest.raises(expr.ExpressionError, match="cannot be computed"):
        expr.evaluate("9 ** 9 ** 9 * a", {"a": 1.0})


def test_long_sums_are_evaluated_without_recursion():
    y, inputs = expr.evaluate("+".join(["a"] * 2000), {"a": 1.0})
    y.backward()
    assert y.data.item() == 2000.0
    assert inputs["a"].grad.data.item() == 2000.0


@pytest.mark.parametrize("text, what", [
    ("a % b", "operator %"),
    ("a // b", "operator //"),
    ("a @ b", "operator @"),
    ("a[0]", "indexing"),
    ("a < b", "comparison"),
    ("a if b else c", "conditional"),
    ("lambda: a", "lambda"),
    ("[a, b]", "list"),
    ("(a, b)", "tuple"),
    ("a.T", "attribute access 'a.T'"),
    ("os.system('ls')", "attribute access 'os.system'"),
    ("__import__('os')", "calling '__import__'"),
    ("exec('1')", "calling 'exec'"),
    ("F.exp", "only when called"),
    ("F", "F alone"),
    ("F._private(a)", "not a public function"),
    ("F.nothing(a)", "has no function 'nothing'"),
    ("a + 'text'", "constant 'text'"),
    ("a + True", "constant True"),
    ("(y := a)", "assignment"),
    ("a +", "invalid syntax"),
    ("", "empty"),
    ("2 * 3", "uses no names"),
    ("a * b", "no value for b"),
])
def test_anything_outside_the_subset_is_refused_in_one_sentence(text, what):
    with pytest.raises(expr.ExpressionError, match="^expression: ") as info:
        expr.evaluate(text, {"a": 1.0, "c": 1.0} if "no value" in what else
                      {"a": 1.0, "b": 2.0, "c": 3.0})
    assert what in str(info.value)
    assert "\n" not in str(info.value)


def test_function_errors_name_the_function():
    with pytest.raises(expr.ExpressionError, match="F.sum"):
        expr.evaluate("F.sum(a, axis=5)", {"a": [1.0, 2.0]})
