"""Module hooks (forward, forward-pre, backward), freezing, and dtype moves."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn

from .twin import random_input, torch_or_skip


def mlp():
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_forward_hook_sees_input_and_output_and_may_replace_the_output():
    model = mlp()
    seen = []
    model[0].register_forward_hook(lambda m, args, out: seen.append((m, args[0].shape, out.shape)))
    model[2].register_forward_hook(lambda m, args, out: out * 0)
    y = model(random_input((5, 3)))
    assert seen == [(model[0], (5, 3), (5, 4))]
    np.testing.assert_array_equal(y.data, np.zeros((5, 2)))


def test_forward_pre_hook_may_replace_the_arguments_and_handles_remove_hooks():
    layer = nn.Linear(3, 2)
    x = random_input((4, 3))
    handle = layer.register_forward_pre_hook(lambda m, args: args[0] * 2)
    np.testing.assert_allclose(layer(x).data, layer.forward(cr.Variable(x * 2)).data)
    handle.remove()
    handle.remove()  # twice is harmless
    np.testing.assert_allclose(layer(x).data, layer.forward(cr.Variable(x)).data)


def test_hooks_run_in_registration_order_unless_prepended_and_with_kwargs():
    layer = nn.Identity()
    order = []
    layer.register_forward_hook(lambda m, a, o: order.append("first"))
    layer.register_forward_hook(lambda m, a, o: order.append("second"))
    layer.register_forward_hook(lambda m, a, o: order.append("front"), prepend=True)
    layer.register_forward_pre_hook(lambda m, a, kw: ((a[0] + 1,), kw), with_kwargs=True)
    with layer.register_forward_hook(lambda m, a, kw, o: order.append(kw), with_kwargs=True):
        assert layer(cr.Variable(np.zeros(2))).data.tolist() == [1.0, 1.0]
    layer(cr.Variable(np.zeros(2)))
    assert order == ["front", "first", "second", {}, "front", "first", "second"]


def test_a_hook_must_be_callable():
    with pytest.raises(TypeError, match="callable"):
        nn.Linear(2, 2).register_forward_hook(3)


def test_backward_hook_gets_the_gradients_of_inputs_and_outputs():
    layer = nn.Linear(3, 2)
    x = cr.Variable(random_input((4, 3)))
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    gy = random_input((4, 2), seed=1)
    layer(x).backward(cr.Variable(gy))
    ((grad_input, grad_output),) = calls
    np.testing.assert_allclose(grad_output[0].data, gy)
    np.testing.assert_allclose(grad_input[0].data, gy @ layer.W.data.T, rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, grad_input[0].data)


def test_backward_hook_can_replace_the_input_gradient_and_the_pre_hook_the_output_one():
    layer = nn.Linear(3, 2)
    x = cr.Variable(random_input((4, 3)))
    layer.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0 + 7,))
    layer(x).backward(cr.Variable(np.ones((4, 2), np.float32)))
    np.testing.assert_array_equal(x.grad.data, np.full((4, 3), 7.0))
    np.testing.assert_allclose(layer.b.grad.data, [8.0, 8.0])  # doubled grad_output reached b


def test_backward_hook_without_input_gradient_gets_none_and_fires_once():
    model = mlp()
    calls = []
    model[0].register_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
    x = cr.Variable(random_input((5, 3)), requires_grad=False)
    model(x).sum().backward()
    assert calls == [((None,), (5, 4))]


def test_backward_hook_on_a_model_with_several_outputs_and_a_non_variable_argument():
    class Split(nn.Module):
        def forward(self, x, scale):
            return x[:, :1] * scale, (x[:, 1:],)

    module = Split()
    calls = []
    module.register_full_backward_hook(lambda m, gi, go: calls.append(
        ([None if g is None else g.shape for g in gi], [g.shape for g in go])))
    x = cr.Variable(random_input((3, 4)))
    a, (b,) = module(x, 2.0)
    (F.sum(a) + F.sum(b)).backward()
    assert calls == [([(3, 4), None], [(3, 1), (3, 3)])]
    np.testing.assert_array_equal(x.grad.data, np.array([[2, 1, 1, 1]] * 3))


def test_backward_hook_matches_torch_on_an_mlp():
    torch = torch_or_skip()
    ours, theirs = [], []
    model = mlp()
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    nn.load_torch_state_dict(model, twin.state_dict())
    model[1].register_full_backward_hook(lambda m, gi, go: ours.append((gi[0].data, go[0].data)))
    twin[1].register_full_backward_hook(lambda m, gi, go: theirs.append((gi[0], go[0])))
    x = random_input((5, 3))
    model(cr.Variable(x)).sum().backward()
    twin(torch.tensor(x, requires_grad=True)).sum().backward()
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-6)


def test_hooks_cost_nothing_under_no_grad():
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: None)
    with cr.no_grad():
        y = layer(random_input((1, 2)))
    assert y.creator is None


def test_requires_grad_false_freezes_every_parameter():
    model = mlp()
    assert model.requires_grad_(False) is model
    model[2].requires_grad_()
    x = cr.Variable(random_input((5, 3)))
    model(x).sum().backward()
    assert model[0].W.grad is None and model[0].b.grad is None
    assert model[2].W.grad is not None and x.grad is not None


@pytest.mark.parametrize("dtype", [np.float64, "float64", "torch.float64"])
def test_to_dtype_casts_floating_parameters_buffers_and_grads(dtype):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(random_input((4, 3))).sum().backward()
    assert model.to(dtype) is model
    for array in [p.data for p in model.parameters()] + list(model.buffers()):
        assert array.dtype == np.float64
    assert model[0].W.grad.dtype == np.float64
    assert model(random_input((4, 3)).astype(np.float64)).dtype == np.float64


def test_double_float_half_and_device_with_dtype():
    model = nn.Linear(2, 2)
    assert model.double().W.dtype == np.float64
    assert model.float().W.dtype == np.float32
    assert model.half().W.dtype == np.float16
    assert model.to("cpu", dtype=np.float32).W.dtype == np.float32


def test_to_refuses_a_dtype_that_is_not_floating_and_an_unknown_device():
    with pytest.raises(ValueError, match="floating dtype"):
        nn.Linear(2, 2).to(dtype=np.int32)
    with pytest.raises(ValueError, match="unknown device"):
        nn.Linear(2, 2).to("tpu")


def test_a_double_model_passes_gradcheck():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    cr.gradcheck(lambda x: model(x), [np.random.default_rng(0).standard_normal((2, 3))])
