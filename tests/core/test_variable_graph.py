"""Variable as NumPy converts arrays, and the graph API PyTorch users expect."""

import numpy as np
import pytest

import chainrule as cr


def test_bool_float_and_int_of_one_element_work_as_on_numpy_arrays():
    assert bool(cr.Variable(np.array(2.0))) and not bool(cr.Variable(np.array([0.0])))
    assert float(cr.Variable(np.array(2.5, dtype=np.float32))) == 2.5
    assert int(cr.Variable(np.array(7.9))) == 7
    with pytest.raises(ValueError, match="ambiguous"):
        bool(cr.Variable(np.ones(3)))


def test_np_asarray_of_a_variable_gives_its_numbers_not_an_object_array():
    v = cr.Variable(np.array([[1.0, 2.0]], dtype=np.float32))
    a = np.asarray(v)
    assert a.dtype == np.float32 and a.shape == (1, 2)
    assert np.asarray(v, dtype=np.float64).dtype == np.float64
    assert np.array([cr.Variable(1.0), cr.Variable(2.0)]).dtype == np.float64


def test_ndarray_on_the_left_still_defers_to_the_variable():
    v = cr.Variable(np.array([1.0, 2.0]))
    for result in (np.ones(2) + v, np.ones(2) * v, np.ones(2) - v, np.ones(2) / v):
        assert isinstance(result, cr.Variable)
    with pytest.raises(TypeError):
        np.exp(v)  # ufuncs still refuse a Variable: F.exp records the graph


def test_variables_hash_by_identity():
    a, b = cr.Variable(np.array(1.0)), cr.Variable(np.array(1.0))
    assert len({a: 1, b: 2}) == 2 and hash(a) == object.__hash__(a)


def test_is_leaf_grad_fn_and_requires_grad_():
    x = cr.Variable(np.ones(2), requires_grad=False)
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.grad_fn is y.creator
    with pytest.raises(RuntimeError, match="only a leaf"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert (x * 2).creator is None


def test_retain_grad_keeps_one_intermediate_and_accumulates():
    x = cr.Variable(np.array(3.0))
    h = x * 2
    other = h + 1
    y = h * other
    h.retain_grad()
    assert h.retains_grad and not other.retains_grad
    y.backward()
    assert h.grad.data == 2 * 6.0 + 1 and other.grad is None
    y.backward()
    assert h.grad.data == 2 * 13.0


def test_hooks_see_the_summed_gradient_and_may_replace_it():
    x = cr.Variable(np.array([1.0, 2.0]))
    h = x * 3
    y = (h * h + h).sum()  # h used twice: the hook runs once, on the sum
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    handle = h.register_hook(lambda g: g * 0)
    y.backward()
    np.testing.assert_allclose(seen[0], 2 * 3 * np.array([1.0, 2.0]) + 1)
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0])
    handle.remove()
    x.cleargrad()
    ((x * 3) * 1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_a_leaf_hook_runs_once_before_the_gradient_lands_in_grad():
    x = cr.Variable(np.array([1.0, 2.0]))
    calls = []

    def double(g):
        calls.append(g.data.copy())
        return g * 2

    x.register_hook(double)
    (x * x + x).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad.data, 2 * (2 * np.array([1.0, 2.0]) + 1))


def test_hooks_match_torch():
    torch = pytest.importorskip("torch")
    x = cr.Variable(np.array([0.5, -1.0]))
    h = x * x
    h.register_hook(lambda g: g + 1)
    (h * 3).sum().backward()
    tx = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    th = tx * tx
    th.register_hook(lambda g: g + 1)
    (th * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


def test_register_hook_on_a_variable_without_gradient_is_refused():
    with pytest.raises(RuntimeError, match="does not need a gradient"):
        cr.Variable(np.ones(2), requires_grad=False).register_hook(print)


def test_setitem_where_pytorch_allows_it_and_a_clear_error_elsewhere():
    c = cr.Variable(np.zeros(3), requires_grad=False)
    c[1] = 5.0
    assert c.data.tolist() == [0.0, 5.0, 0.0] and c._version == 1
    w = cr.Variable(np.zeros(3))
    with pytest.raises(RuntimeError, match="setitem: .*needs a gradient.*no_grad"):
        w[0] = 1.0
    with cr.no_grad():
        w[0] = cr.Variable(np.array(1.0))
    assert w.data[0] == 1.0 and w._version == 1
    h = w * 2  # made by a recorded op: never assignable, even under no_grad
    with pytest.raises(RuntimeError, match=r"setitem: .*of shape \(3,\).*detach"), cr.no_grad():
        h[0] = 1.0


def test_clone_is_a_differentiable_copy_and_detach_cuts_the_graph():
    x = cr.Variable(np.array([1.0, 2.0]))
    c = x.clone()
    assert not np.shares_memory(c.data, x.data) and c.creator is not None
    (c * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])
    d = (x * 2).detach()
    assert d.creator is None and not d.requires_grad
