"""chainrule.checkpoint: the same gradients as without it, random draws replayed, nothing kept."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn


def blocks(depth=6, width=8, seed=0):
    rng = np.random.default_rng(seed)
    layers = [nn.Linear(width, width) for _ in range(depth)]
    for layer in layers:
        layer.W.data[...] = rng.standard_normal(layer.W.shape) * 0.5
    return layers


def run(layers, x, checkpointed, segment=2):
    """Backward through ``layers`` (tanh, dropout), in checkpointed segments or not; the grads."""
    for p in [p for layer in layers for p in layer.parameters()] + [x]:
        p.cleargrad()

    def segment_fn(h, start):
        for layer in layers[start:start + segment]:
            h = F.dropout(F.tanh(layer(h)), 0.3)
        return h

    np.random.seed(7)
    h = x
    for start in range(0, len(layers), segment):
        h = cr.checkpoint(segment_fn, h, start) if checkpointed else segment_fn(h, start)
    (h * h).sum().backward()
    return [x.grad.data] + [p.grad.data for layer in layers for p in layer.parameters()]


def test_checkpointed_gradients_are_identical_with_dropout_replayed():
    layers = blocks()
    x = cr.Variable(np.random.default_rng(1).standard_normal((4, 8)))
    plain, checkpointed = run(layers, x, False), run(layers, x, True)
    for a, b in zip(plain, checkpointed):
        np.testing.assert_array_equal(a, b)


def test_backward_leaves_the_random_stream_where_forward_left_it():
    layers = blocks(depth=2)
    x = cr.Variable(np.ones((2, 8)))
    np.random.seed(3)
    y = cr.checkpoint(lambda h: F.dropout(layers[0](h), 0.5), x)
    after_forward = np.random.random()
    np.random.seed(3)
    y = cr.checkpoint(lambda h: F.dropout(layers[0](h), 0.5), x)
    y.sum().backward()
    assert np.random.random() == after_forward


def test_forward_records_nothing_inside_and_a_module_gives_its_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = cr.Variable(np.random.default_rng(2).standard_normal((5, 3)))
    y = cr.checkpoint(model, x)
    assert y.creator.name == "checkpoint(Sequential)"
    assert all(inp is x or isinstance(inp, nn.Parameter) for inp in y.creator.inputs)
    grads = cr.grad(y.sum(), list(model.parameters()) + [x])
    expected = cr.grad(model(x).sum(), list(model.parameters()) + [x])
    for g, h in zip(grads, expected):
        np.testing.assert_allclose(g.data, h.data, rtol=1e-12)


def test_captured_weights_get_gradients_though_no_argument_needs_one():
    W = cr.Variable(np.random.default_rng(3).standard_normal((3, 3)))
    x = cr.Variable(np.ones((2, 3)), requires_grad=False)
    y = cr.checkpoint(lambda h: F.tanh(h @ W), x)
    (g,) = cr.grad(y.sum(), [W])
    (h,) = cr.grad(F.tanh(x @ W).sum(), [W])
    np.testing.assert_allclose(g.data, h.data, rtol=1e-12)
    assert y.creator.inputs[1] is W


def test_several_outputs_and_settings_among_the_arguments():
    x = cr.Variable(np.arange(4.0))

    def f(v, power, name):
        assert name == "setting"
        return v ** power, F.exp(v)

    a, b = cr.checkpoint(f, x, 3, "setting")
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2 + np.exp(x.data))


def test_errors_name_the_checkpoint():
    x = cr.Variable(np.ones(3))
    with pytest.raises(TypeError, match="checkpoint\\(<lambda>\\): the function must return "
                                        "a Variable or a tuple of Variables, got float"):
        cr.checkpoint(lambda v: 1.0, x)
    y = cr.checkpoint(lambda v: v * v, x).sum()
    with pytest.raises(RuntimeError, match="higher-order gradients .* cannot pass through"):
        y.backward(create_graph=True)
