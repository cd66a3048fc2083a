import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import (
    assert_close,
    assert_same_grads,
    backward_both,
    load_into_torch,
    random_input,
    same,
    torch_or_skip,
)


def test_batch_norm_has_gamma_beta_and_running_buffers():
    layer = nn.BatchNorm2d(3)
    assert [n for n, _ in layer.named_parameters()] == ["gamma", "beta"]
    assert list(layer.state_dict()) == ["gamma", "beta", "running_mean", "running_var"]
    np.testing.assert_array_equal(layer.running_var, np.ones(3, np.float32))
    assert layer.momentum == 0.1 and layer.eps == 1e-5
    assert repr(layer) == "BatchNorm2d(3, eps=1e-05, momentum=0.1)"


def test_batch_norm_normalises_in_training_and_uses_running_stats_in_eval():
    layer = nn.BatchNorm1d(4)
    x = random_input((64, 4)) * 3 + 5
    y = layer(x).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-3)
    assert np.all(layer.running_mean > 0.3)  # moved 10% of the way toward the batch mean
    layer.eval()
    before = layer.running_mean.copy()
    expected = (x - before) / np.sqrt(layer.running_var + 1e-5)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.running_mean, before)  # eval leaves them alone


@pytest.mark.parametrize(("layer", "shape"), [(nn.BatchNorm1d(3), (2, 3, 4, 5)),
                                              (nn.BatchNorm2d(3), (2, 3))])
def test_batch_norm_refuses_the_wrong_number_of_axes(layer, shape):
    with pytest.raises(ValueError, match=r"BatchNorm.d: expected input of shape \(N, C"):
        layer(random_input(shape))


@pytest.mark.parametrize(("kind", "shape"), [("BatchNorm1d", (8, 3)),
                                             ("BatchNorm2d", (4, 3, 5, 6))])
def test_batch_norm_matches_torch_running_stats_after_training_steps(kind, shape):
    torch = torch_or_skip()
    layer, twin = getattr(nn, kind)(3), getattr(torch.nn, kind)(3)
    layer.gamma.data[...] = [0.5, 1.0, 2.0]
    layer.beta.data[...] = [0.1, -0.2, 0.3]
    pairs = [(layer.gamma, twin.weight, same), (layer.beta, twin.bias, same)]
    load_into_torch(pairs)
    for step in range(3):
        x = cr.Variable(random_input(shape, seed=step) * 2 + 1)
        t_x = torch.tensor(x.data, requires_grad=True)
        y, t_y = layer(x), twin(t_x)
        assert_close(y, t_y)
    assert_close(layer.running_mean, twin.running_mean)
    assert_close(layer.running_var, twin.running_var)
    backward_both(y, t_y)
    assert_same_grads(pairs, atol=1e-4)
    assert_close(x.grad, t_x.grad, atol=1e-4)
    layer.eval()
    twin.eval()
    x = random_input(shape, seed=9)
    assert_close(layer(x), twin(torch.tensor(x)))


@pytest.mark.parametrize("normalized_shape", [5, (4, 5)])
def test_layer_norm_matches_torch(normalized_shape):
    torch = torch_or_skip()
    layer, twin = nn.LayerNorm(normalized_shape), torch.nn.LayerNorm(normalized_shape)
    rng = np.random.default_rng(0)
    layer.gamma.data[...] = rng.uniform(0.5, 1.5, layer.gamma.shape)
    layer.beta.data[...] = rng.uniform(-0.5, 0.5, layer.beta.shape)
    pairs = [(layer.gamma, twin.weight, same), (layer.beta, twin.bias, same)]
    load_into_torch(pairs)
    x = cr.Variable(random_input((3, 4, 5)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs, atol=1e-4)
    assert_close(x.grad, t_x.grad, atol=1e-4)


def test_layer_norm_shapes_and_repr():
    layer = nn.LayerNorm(6)
    assert layer.gamma.shape == (6,) and layer.normalized_shape == (6,)
    assert repr(layer) == "LayerNorm((6,), eps=1e-05)"
    assert list(layer.buffers()) == []


OPTIONS = [{}, {"affine": False}, {"track_running_stats": False}, {"momentum": None}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
@pytest.mark.parametrize(("kind", "shape"), [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (6, 3, 5)),
                                             ("BatchNorm2d", (6, 3, 2, 2))])
def test_batch_norm_options_and_sequences_match_torch(kind, shape, options):
    torch = torch_or_skip()
    layer, twin = getattr(nn, kind)(3, **options), getattr(torch.nn, kind)(3, **options)
    for seed in range(3):  # three training batches move (or do not move) the statistics
        x = random_input(shape, seed)
        assert_close(layer(x), twin(torch.tensor(x)))
    layer.eval(), twin.eval()
    x = cr.Variable(random_input(shape, seed=9))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_close(x.grad, t_x.grad)
    assert list(nn.export_torch_state_dict(layer)) == list(twin.state_dict())


def test_batch_norm_without_affine_or_tracking_holds_nothing_of_it():
    layer = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(layer.parameters()) == [] and list(layer.state_dict()) == []
    assert repr(layer) == ("BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=False, "
                           "track_running_stats=False)")
    y = layer.eval()(random_input((8, 3)) * 4 + 1).data  # batch statistics even in eval
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)


def test_batch_norm_momentum_none_averages_all_batches():
    layer = nn.BatchNorm1d(2, momentum=None)
    batches = [random_input((5, 2), seed) + seed for seed in range(4)]
    for x in batches:
        layer(x)
    np.testing.assert_allclose(layer.running_mean, np.mean([x.mean(0) for x in batches], 0),
                               rtol=1e-5)
    assert layer.num_batches_tracked == 4


@pytest.mark.parametrize("options", [{"elementwise_affine": False}, {"bias": False}])
def test_layer_norm_without_affine_or_bias_matches_torch(options):
    torch = torch_or_skip()
    layer, twin = nn.LayerNorm(5, **options), torch.nn.LayerNorm(5, **options)
    x = random_input((2, 3, 5))
    assert_close(layer(x), twin(torch.tensor(x)))
    assert [n for n, _ in layer.named_parameters()] == (
        [] if "elementwise_affine" in options else ["gamma"])


@pytest.mark.parametrize(("groups", "shape", "affine"), [(2, (3, 4, 5), True),
                                                         (1, (2, 6, 3, 3), True),
                                                         (3, (2, 6, 2, 2), False)])
def test_group_norm_matches_torch_and_moves_across(groups, shape, affine):
    torch = torch_or_skip()
    layer = nn.GroupNorm(groups, shape[1], affine=affine)
    twin = torch.nn.GroupNorm(groups, shape[1], affine=affine)
    if affine:
        with torch.no_grad():
            twin.weight.normal_(), twin.bias.normal_()
    nn.load_torch_state_dict(layer, twin.state_dict())
    x = cr.Variable(random_input(shape))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(t_x)
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_close(x.grad, t_x.grad)
    if affine:
        assert_close(layer.gamma.grad, twin.weight.grad, atol=1e-4)


def test_group_norm_normalises_each_group_and_differentiates_twice():
    layer = nn.GroupNorm(2, 4).double()
    x = np.random.default_rng(0).standard_normal((2, 4, 3)) * 3 + 1
    y = layer(x).data.reshape(2, 2, 6)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    cr.gradcheck(layer, [x], order=2)
    assert repr(nn.GroupNorm(2, 4, affine=False)) == "GroupNorm(2, 4, eps=1e-05, affine=False)"
    with pytest.raises(ValueError, match="num_channels 5 is not divisible by num_groups 2"):
        nn.GroupNorm(2, 5)
