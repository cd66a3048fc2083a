"""functional_call: a module as a function of its parameters, under grad, vmap and jvp, the
module restored afterwards; per-sample gradients of an nn model against torch.func."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import func, nn


def mlp(seed=0):
    np.random.seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def data(n=5, seed=1):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, 4)), r.integers(0, 3, n)


def replaced(model, scale=2.0):
    return {name: cr.Variable(p.data * scale) for name, p in model.named_parameters()}


def test_runs_the_module_with_the_given_parameters_and_restores_its_own():
    model, (x, _) = mlp(), data()
    originals = {name: p for name, p in model.named_parameters()}
    params = replaced(model)
    y = func.functional_call(model, params, (x,))
    W1, b1, W2, b2 = (params[k].data for k in ("0.W", "0.b", "2.W", "2.b"))
    np.testing.assert_allclose(y.data, np.tanh(x @ W1 + b1) @ W2 + b2)
    assert {name: p for name, p in model.named_parameters()} == originals
    assert all(type(p) is nn.Parameter for p in model.parameters())


def test_names_not_given_keep_the_modules_values_and_one_argument_needs_no_tuple():
    model, (x, _) = mlp(), data()
    params = {"2.b": cr.Variable(np.full(3, 10.0))}
    y = func.functional_call(model, params, cr.Variable(x))
    expected = model(x).data - model[2].b.data + 10.0
    np.testing.assert_allclose(y.data, expected)


def test_grad_through_functional_call_equals_backward_through_the_module():
    model, (x, t) = mlp(), data()
    params = dict(model.named_parameters())
    loss = lambda p: F.softmax_cross_entropy(func.functional_call(model, p, (x,)), t)  # noqa: E731
    grads = func.grad(loss)(params)
    F.softmax_cross_entropy(model(x), t).backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(grads[name].data, p.grad.data, rtol=1e-12)


def test_per_sample_gradients_of_a_model_equal_the_loop():
    model, (x, t) = mlp(), data(n=7)
    params = dict(model.named_parameters())

    def loss(p, xi, ti):
        return F.softmax_cross_entropy(func.functional_call(model, p, (xi[None],)), ti[None])

    batched = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, x, t)
    for i in range(len(x)):
        one = func.grad(loss)(params, cr.Variable(x[i]), t[i])
        for name in params:
            np.testing.assert_allclose(batched[name].data[i], one[name].data, rtol=1e-10,
                                       atol=1e-14)


def test_tied_weights_follow_the_value_given_for_either_name():
    first, second = nn.Linear(3, 3).double(), nn.Linear(3, 3).double()
    second.W = first.W  # one Parameter under two names: '0.W' and '2.W'
    model = nn.Sequential(first, nn.Tanh(), second)
    value = cr.Variable(np.eye(3) * 0.5)
    x = np.ones((2, 3))
    b0, b2, W = first.b.data, second.b.data, first.W.data
    y = func.functional_call(model, {"0.W": value}, (x,))
    np.testing.assert_allclose(y.data, np.tanh(x @ value.data + b0) @ value.data + b2)
    untied = func.functional_call(model, {"0.W": value}, (x,), tie_weights=False)
    np.testing.assert_allclose(untied.data, np.tanh(x @ value.data + b0) @ W + b2)
    assert first.W is second.W and first.W.data is not value.data


def test_buffers_can_be_given_too():
    bn = nn.BatchNorm1d(3).double()
    bn.eval()
    mean, var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 1.0, 0.25])
    x = np.ones((2, 3))
    y = func.functional_call(bn, {"running_mean": mean, "running_var": var}, (x,))
    np.testing.assert_allclose(y.data, (x - mean) / np.sqrt(var + bn.eps), rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(3))


def test_the_module_is_restored_when_the_call_raises():
    model = mlp()
    W = model[0].W
    with pytest.raises(ValueError, match="linear"):
        func.functional_call(model, replaced(model), (np.ones((2, 5)),))
    assert model[0].W is W and model._modules["0"]._parameters["W"] is W


def test_unknown_names_strict_and_overlapping_dicts_are_refused_in_one_sentence():
    model, (x, _) = mlp(), data()
    with pytest.raises(KeyError, match="no parameter or buffer named '0.weight'"):
        func.functional_call(model, {"0.weight": cr.Variable(np.ones((4, 6)))}, (x,))
    with pytest.raises(KeyError, match="strict.*'2.b'"):
        params = replaced(model)
        del params["2.b"]
        func.functional_call(model, params, (x,), strict=True)
    with pytest.raises(ValueError, match="more than one dict"):
        func.functional_call(model, ({"0.b": np.zeros(6)}, {"0.b": np.ones(6)}), (x,))
    split = ({"0.W": model[0].W, "0.b": model[0].b}, {"2.W": model[2].W, "2.b": model[2].b})
    np.testing.assert_allclose(func.functional_call(model, split, (x,), strict=True).data,
                               model(x).data)


def test_per_sample_gradients_match_torch_func():
    torch = pytest.importorskip("torch")
    model, (x, t) = mlp(), data(n=6)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(),
                                 torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for i in (0, 2):
            tmodel[i].weight.copy_(torch.tensor(model[i].W.data.T))
            tmodel[i].bias.copy_(torch.tensor(model[i].b.data))

    def loss(p, xi, ti):
        return F.softmax_cross_entropy(func.functional_call(model, p, (xi[None],)), ti[None])

    def tloss(p, xi, ti):
        out = torch.func.functional_call(tmodel, p, (xi[None],))
        return torch.nn.functional.cross_entropy(out, ti[None])

    ours = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(dict(model.named_parameters()), x, t)
    tparams = {k: v.detach() for k, v in tmodel.named_parameters()}
    theirs = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))(
        tparams, torch.tensor(x), torch.tensor(t))
    for i in (0, 2):
        np.testing.assert_allclose(ours[f"{i}.W"].data,
                                   theirs[f"{i}.weight"].numpy().transpose(0, 2, 1), rtol=1e-10)
        np.testing.assert_allclose(ours[f"{i}.b"].data, theirs[f"{i}.bias"].numpy(), rtol=1e-10)
