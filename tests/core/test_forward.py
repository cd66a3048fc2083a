"""Forward mode's machinery: dual levels, tangents through Functions, nesting, the fallback."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.forward import dual_level, make_dual, unpack_dual
from chainrule.core.mode import grad_mode


def test_a_tangent_flows_through_a_chain_of_ops():
    x = cr.Variable(np.array([0.5, -1.0, 2.0]))
    with dual_level():
        d = make_dual(x, np.array([1.0, 2.0, 3.0]))
        y = (d * d).exp() / (d + 3.0)
        tangent = unpack_dual(y).tangent
    value = np.exp(x.data**2) / (x.data + 3)
    slope = value * (2 * x.data - 1 / (x.data + 3))
    np.testing.assert_allclose(tangent.data, slope * [1.0, 2.0, 3.0])


def test_an_output_without_a_tangent_unpacks_to_none():
    with dual_level():
        y = cr.Variable(np.ones(2)) * 2.0
        assert unpack_dual(y).tangent is None


def test_tangents_are_computed_under_no_grad_and_record_nothing():
    x = cr.Variable(np.array([1.0, 2.0]))
    with dual_level(), cr.no_grad():
        d = make_dual(x, np.ones(2))
        y = d * d * d
        tangent = unpack_dual(y).tangent
    np.testing.assert_allclose(tangent.data, 3 * x.data**2)
    assert y.creator is None and tangent.creator is None


def test_a_level_closes_and_the_flag_returns_to_the_plain_path():
    with dual_level():
        assert grad_mode.dispatch
    assert not grad_mode.dispatch and grad_mode.levels == ()


def test_anomaly_mode_still_checks_inside_and_after_a_level():
    x = cr.Variable(np.array([-1.0]))
    with cr.detect_anomaly(), np.errstate(invalid="ignore"):
        with dual_level():
            d = make_dual(x, np.ones(1))
            with pytest.raises(FloatingPointError, match="log"):
                d.log()
        with pytest.raises(FloatingPointError, match="log"):
            x.log()


def test_reverse_mode_differentiates_a_tangent():
    # y = x³ along ẋ = 1: ẏ = 3x²; its gradient in x is 6x (reverse over forward)
    x = cr.Variable(np.array([1.0, 2.0]))
    with dual_level():
        d = make_dual(x, np.ones(2))
        tangent = unpack_dual(d * d * d).tangent
    (g,) = cr.grad(tangent.sum(), [x])
    np.testing.assert_allclose(g.data, 6 * x.data)


def test_a_backward_inside_a_level_gives_a_hessian_vector_product():
    # f = Σ x² y, ∇ₓf = 2xy; along ẋ: H ẋ = 2y ẋ (plus the y term, y carries no tangent)
    x = cr.Variable(np.array([1.0, 2.0, 3.0]))
    y = cr.Variable(np.array([4.0, 5.0, 6.0]))
    v = np.array([1.0, -1.0, 0.5])
    for create_graph in (False, True):
        with dual_level():
            d = make_dual(x, v)
            (g,) = cr.grad((d * d * y).sum(), [d], create_graph=create_graph)
            np.testing.assert_allclose(unpack_dual(g).tangent.data, 2 * y.data * v)


def test_nested_levels_give_a_second_derivative_without_mixing():
    # d²/dx² of x³ at 2 is 12: the inner level's tangent, differentiated by the outer
    x = cr.Variable(np.array(2.0))
    with dual_level() as outer:
        a = make_dual(x, np.array(1.0), outer)
        with dual_level() as inner:
            b = make_dual(a, np.array(1.0), inner)
            y = b * b * b
            first = unpack_dual(y, inner).tangent
            assert unpack_dual(y, outer).tangent.item() == pytest.approx(12.0)
        assert unpack_dual(first, outer).tangent.item() == pytest.approx(12.0)


def test_get_item_slices_carry_tangents_through_a_plain_backward():
    x = cr.Variable(np.arange(6.0).reshape(2, 3))
    expected = np.zeros((2, 3))
    expected[:, 0], expected[:, 1] = 2.0, 6 * x.data[:, 1]
    with dual_level():
        d = make_dual(x, np.ones((2, 3)))
        loss = (d[:, 0] * d[:, 0]).sum() + (d[:, 1] ** 3).sum()
        (g,) = cr.grad(loss, [d])
        np.testing.assert_allclose(unpack_dual(g).tangent.data, expected)


class Cube(cr.Function):
    """A user Function with forward and backward only: forward mode falls back."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        (x,) = self.inputs
        return 3 * x * x * gy


class CubeAgain(Cube):
    pass


def test_a_function_without_jvp_falls_back_and_warns_once_per_class():
    x = cr.Variable(np.array([1.0, -2.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with dual_level():
            d = make_dual(x, np.array([1.0, 0.5]))
            for _ in range(3):
                tangent = unpack_dual(Cube()(d)).tangent
            CubeAgain()(d)
    np.testing.assert_allclose(tangent.data, 3 * x.data**2 * [1.0, 0.5])
    messages = [str(w.message) for w in caught]
    assert messages == [m for m in messages if "double vjp" in m]
    assert [m.split()[0] for m in messages] == ["Cube", "CubeAgain"]
    assert caught[0].filename == __file__  # the warning names the user's line


def test_the_fallback_nests_with_reverse_mode():
    x = cr.Variable(np.array([1.5]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with dual_level():
            d = make_dual(x, np.ones(1))
            tangent = unpack_dual(Cube()(d)).tangent
    (g,) = cr.grad(tangent.sum(), [x])
    np.testing.assert_allclose(g.data, 6 * x.data)


def test_make_dual_refuses_a_tangent_of_the_wrong_shape():
    x = cr.Variable(np.zeros((2, 3)))
    with dual_level(), pytest.raises(ValueError, match=r"tangent has shape \(3,\) but its "
                                                       r"primal has shape \(2, 3\)"):
        make_dual(x, np.zeros(3))


def test_make_dual_needs_an_open_level():
    with pytest.raises(RuntimeError, match="no forward-mode level is open"):
        make_dual(cr.Variable(np.zeros(2)), np.zeros(2))


def test_a_rule_returning_the_wrong_shape_is_named():
    class Bad(cr.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2

        def jvp(self, t):
            return t.sum(axis=1)

    with dual_level():
        d = make_dual(cr.Variable(np.zeros((2, 3))), np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"bad jvp: tangent of shape \(2,\) does not fit "
                                             r"output of shape \(2, 3\)"):
            Bad()(d)


def test_the_tangent_takes_the_primal_dtype():
    x = cr.Variable(np.ones(3, np.float32))
    with dual_level():
        d = make_dual(x, np.ones(3))
        assert unpack_dual(d * 2.0).tangent.dtype == np.float32
