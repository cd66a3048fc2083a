"""The transforms' own properties: exact Hessians, both Jacobians agreeing, nesting, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from chainrule import func
from chainrule.func.pytree import flatten
from harness import broadcast_shapes, random_array, seeds, shapes


def V(a):
    return cr.Variable(np.asarray(a, dtype=np.float64), requires_grad=False)


@given(n=st.integers(1, 6), seed=seeds)
def test_hessian_of_a_quadratic_form_is_a_plus_a_transposed_exactly(n, seed):
    a = random_array(seed, (n, n))
    x = V(random_array(seed + 1, (n,)))
    h = func.hessian(lambda v: v @ cr.Variable(a) @ v)(x)
    assert h.shape == (n, n)
    np.testing.assert_array_equal(h.data, a + a.T)


def test_hessian_of_a_quadratic_form_is_exact_with_a_gradient_needing_input_too():
    a = random_array(0, (3, 3))
    x = cr.Variable(random_array(1, (3,)))  # in a graph of its own: the result stays in it
    h = func.hessian(lambda v: (v * (cr.Variable(a) @ v)).sum())(x)
    np.testing.assert_array_equal(h.data, a + a.T)


FUNCTIONS = {
    "sin_exp": lambda x, y: F.sin(x) * F.exp(y),
    "tanh_matmul": lambda x, y: F.tanh(x * 2.0) + (y * y).sum(),
    "softmax_mix": lambda x, y: F.softmax(x + y, axis=-1) if (x + y).ndim else (x + y).exp(),
    "pow_div": lambda x, y: (x * x + 1.0) ** (y * 0.5) / (y * y + 1.0),
    "max_log": lambda x, y: (F.log(x * x + 1.0) + y).max(axis=-1, keepdims=True)
    if (x + y).ndim else F.log(x * x + 1.0) + y,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@given(pair=broadcast_shapes(max_side=3), seed=seeds)
def test_jacfwd_and_jacrev_agree_everywhere(name, pair, seed):
    fn = FUNCTIONS[name]
    x, y = V(random_array(seed, pair[0])), V(random_array(seed + 1, pair[1], 0.5, 2.0))
    forward = func.jacfwd(fn, argnums=(0, 1))(x, y)
    reverse = func.jacrev(fn, argnums=(0, 1))(x, y)
    for f, r, arg in zip(forward, reverse, (x, y)):
        assert f.shape == r.shape == fn(x, y).shape + arg.shape
        np.testing.assert_allclose(f.data, r.data, rtol=1e-12, atol=1e-12)


@given(shape=shapes(max_dims=2, max_side=3), seed=seeds)
def test_jacobian_columns_match_central_differences(shape, seed):
    x = random_array(seed, shape)
    fn = lambda v: F.tanh(v) * v.sum()  # noqa: E731
    jac = func.jacfwd(fn)(V(x)).data.reshape(x.size, x.size)
    eps = 1e-6
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        plus, minus = (fn(V(x + s.reshape(shape))).data.reshape(-1) for s in (step, -step))
        np.testing.assert_allclose(jac[:, j], (plus - minus) / (2 * eps), atol=1e-7)


def test_grad_of_grad_and_jacfwd_of_jacfwd_give_second_derivatives():
    x = V([0.3, -1.2])
    d2 = func.grad(lambda v: func.grad(lambda w: (w**3).sum())(v).sum())(x)
    np.testing.assert_allclose(d2.data, 6 * x.data)
    h = func.jacfwd(func.jacfwd(lambda v: (v**3).sum()))(x)
    np.testing.assert_allclose(h.data, np.diag(6 * x.data))


def test_hvp_equals_the_hessian_times_the_vector():
    x, v = V([0.5, 1.0, -2.0]), V([1.0, -1.0, 0.25])
    f = lambda w: (F.exp(w[0] * w[1]) + w[2] ** 4 * w[0]).sum()  # noqa: E731
    value, (hv,) = func.hvp(f, (x,), (v,))
    np.testing.assert_allclose(value.data, f(x).data)
    np.testing.assert_allclose(hv.data, func.hessian(f)(x).data @ v.data, rtol=1e-12)


def test_a_transform_leaves_the_callers_grad_alone_and_stays_in_its_graph():
    x = cr.Variable(np.array([1.0, 2.0]))
    g = func.grad(lambda v: (v**3).sum())(x)
    assert x.grad is None
    g.sum().backward()  # d/dx Σ 3x² = 6x: the gradient differentiates again
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_an_input_the_output_ignores_gets_zeros():
    gx, gy = func.grad(lambda a, b: (a * 2.0).sum(), argnums=(0, 1))(V([1.0]), V([[1.0, 2.0]]))
    np.testing.assert_array_equal(gy.data, np.zeros((1, 2)))
    _, tangent = func.jvp(lambda a, b: a * 2.0, (V([1.0]), V([2.0])), (V([0.0]), V([1.0])))
    np.testing.assert_array_equal(tangent.data, [0.0])


def test_arrays_are_accepted_beside_variables():
    g = func.grad(lambda v: (v * v).sum())(np.array([1.0, 3.0]))
    np.testing.assert_allclose(g.data, [2.0, 6.0])


def test_nested_arguments_come_back_nested():
    params = {"w": V([[1.0, 2.0]]), "pair": (V([3.0]), V(4.0))}
    g = func.grad(lambda p: (p["w"] ** 2).sum() + p["pair"][0].sum() * p["pair"][1])(params)
    assert list(g) == ["w", "pair"] and isinstance(g["pair"], tuple)
    np.testing.assert_allclose(g["w"].data, [[2.0, 4.0]])
    np.testing.assert_allclose([g["pair"][0].item(), g["pair"][1].item()], [4.0, 3.0])


def test_pytree_flatten_rebuilds_the_same_nest():
    tree = {"a": [1, (2, 3)], "b": 4}
    leaves, rebuild = flatten(tree)
    assert leaves == [1, 2, 3, 4]
    assert rebuild([5, 6, 7, 8]) == {"a": [5, (6, 7)], "b": 8}


def test_a_user_function_without_jvp_works_in_every_transform_and_warns_once():
    class Cube(cr.Function):
        def forward(self, x):
            return x**3

        def backward(self, gy):
            return 3 * self.inputs[0] ** 2 * gy

    x = V([1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = func.hessian(lambda v: Cube()(v).sum())(x)
        func.jacfwd(Cube())(x)
    np.testing.assert_allclose(h.data, np.diag(6 * x.data))
    assert len([w for w in caught if "Cube defines no jvp" in str(w.message)]) == 1


# ---- errors: one sentence each ----------------------------------------------------
@pytest.mark.parametrize("transform", [func.grad, func.jacrev, func.jacfwd])
def test_a_non_variable_output_is_refused_in_one_sentence(transform):
    with pytest.raises(TypeError, match=r"f must return .*Variable.*got float"):
        transform(lambda v: 3.0)(V([1.0]))


def test_jvp_and_vjp_refuse_a_non_variable_output():
    with pytest.raises(TypeError, match=r"jvp: f must return a Variable.*got str"):
        func.jvp(lambda v: "x", (V([1.0]),), (V([1.0]),))
    with pytest.raises(TypeError, match=r"vjp: f must return a Variable.*got int"):
        func.vjp(lambda v: (v, 3), V([1.0]))


def test_grad_refuses_an_output_of_several_elements():
    with pytest.raises(ValueError, match=r"grad: f must return a Variable of one element .*"
                                         r"got shape \(2,\)"):
        func.grad(lambda v: v * 2.0)(V([1.0, 2.0]))


def test_jvp_refuses_a_tangent_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"jvp: tangent 1 has shape \(3,\) but its primal "
                                         r"has shape \(2, 3\)"):
        func.jvp(lambda a, b: a * b, (V([1.0]), V(np.ones((2, 3)))), (V([1.0]), V(np.ones(3))))


def test_jvp_refuses_mismatched_primals_and_tangents():
    with pytest.raises(ValueError, match="jvp: 2 primals but 1 tangents"):
        func.jvp(lambda a, b: a * b, (V(1.0), V(2.0)), (V(1.0),))
    with pytest.raises(TypeError, match="jvp: primals and tangents must be tuples"):
        func.jvp(lambda a: a, V(1.0), V(1.0))


def test_vjp_refuses_a_cotangent_of_the_wrong_shape():
    _, vjp_fn = func.vjp(lambda a: a * 2.0, V([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"vjp: cotangent 0 has shape \(3,\) but its output "
                                         r"has shape \(2,\)"):
        vjp_fn(V(np.ones(3)))


def test_argnums_out_of_range_or_of_the_wrong_type():
    with pytest.raises(ValueError, match="grad: argnums 2 is out of range for 2 positional"):
        func.grad(lambda a, b: a.sum(), argnums=2)(V([1.0]), V([1.0]))
    with pytest.raises(TypeError, match="jacrev: argnums must be an int or a non-empty tuple"):
        func.jacrev(lambda a: a, argnums=[0])(V([1.0]))


def test_has_aux_needs_a_pair_and_integers_cannot_be_differentiated():
    with pytest.raises(TypeError, match=r"grad: with has_aux=True, f must return a pair"):
        func.grad(lambda a: a.sum(), has_aux=True)(V([1.0]))
    with pytest.raises(TypeError, match="grad: argument 0 has dtype int64"):
        func.grad(lambda a: a.sum())(cr.Variable(np.array([1, 2])))


@pytest.mark.parametrize("name", ["jacrev", "jacfwd", "hessian", "jvp", "hvp"])
def test_each_transform_under_vmap_equals_a_loop_over_the_samples(name):
    xs = random_array(0, (4, 3))
    f = lambda v: F.tanh(v) * v.sum()  # noqa: E731
    loss = lambda v: (F.sin(v) ** 2).sum() * v[0]  # noqa: E731
    one = {"jacrev": lambda v: func.jacrev(f)(v), "jacfwd": lambda v: func.jacfwd(f)(v),
           "hessian": lambda v: func.hessian(loss)(v),
           "jvp": lambda v: func.jvp(f, (v,), (v * 2.0,))[1],
           "hvp": lambda v: func.hvp(loss, (v,), (v * 2.0,))[1][0]}[name]
    batched = func.vmap(one)(V(xs))
    looped = np.stack([one(V(x)).data for x in xs])
    assert batched.shape == looped.shape
    np.testing.assert_allclose(batched.data, looped, rtol=1e-12, atol=1e-12)
