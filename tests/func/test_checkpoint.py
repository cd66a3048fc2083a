"""chainrule.checkpoint: the same gradients as without it, random draws replayed, nothing kept."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn
from chainrule.core.mode import grad_mode
from chainrule.func import grad, vmap


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
    assert grad_mode.observer is None and not grad_mode.dispatch  # put back after a failure
    cr.checkpoint(lambda v: v * v, x)
    assert grad_mode.observer is None and not grad_mode.dispatch  # and after a success


def test_second_order_gradients_pass_through_a_checkpoint():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    # w is an argument here, read by fn as a closure: a weight the first run finds
    assert cr.gradcheck(lambda x, w: cr.checkpoint(lambda h: F.tanh(h @ w) * h, x), [x, w],
                        order=2)


def test_func_grad_and_vmap_of_grad_through_a_checkpoint_equal_plain():
    """func.grad records its backward (its stand-ins are in a graph), and under vmap fn runs
    as it is; both gave a silently wrong gradient or an error before."""
    rng = np.random.default_rng(9)
    W = cr.Variable(rng.standard_normal((3, 3)))
    xs = rng.standard_normal((4, 3))

    def checkpointed(w, x):
        return cr.checkpoint(lambda h: F.tanh(h @ w), x).sum()

    def plain(w, x):
        return F.tanh(x @ w).sum()

    np.testing.assert_allclose(grad(checkpointed)(W, cr.Variable(xs)).data,
                               grad(plain)(W, cr.Variable(xs)).data, rtol=1e-12)
    np.testing.assert_allclose(vmap(grad(checkpointed), in_dims=(None, 0))(W, xs).data,
                               vmap(grad(plain), in_dims=(None, 0))(W, xs).data, rtol=1e-12)


def test_the_first_run_records_nothing_inside_fn():
    W = cr.Variable(np.random.default_rng(4).standard_normal((3, 3)))
    x = cr.Variable(np.ones((2, 3)))
    seen = []

    def fn(h):
        inner = h @ W
        seen.append(inner)
        return F.tanh(inner)

    y = cr.checkpoint(fn, x)
    assert seen[0].creator is None and not seen[0].requires_grad
    assert [type(v) for v in y.creator.inputs] == [cr.Variable, cr.Variable]
    assert y.creator.inputs[0] is x and y.creator.inputs[1] is W
    y.sum().backward()  # the recomputation records: the gradients arrive
    expected = cr.grad(F.tanh(x @ W).sum(), [x, W])
    np.testing.assert_allclose(x.grad.data, expected[0].data, rtol=1e-12)
    np.testing.assert_allclose(W.grad.data, expected[1].data, rtol=1e-12)


def test_a_captured_variable_of_the_graph_around_fn_passes_its_gradient_on():
    W = cr.Variable(np.random.default_rng(5).standard_normal((3, 3)))
    x = cr.Variable(np.ones((2, 3)), requires_grad=False)
    scaled = W * 2.0  # made outside fn, read by it
    y = cr.checkpoint(lambda h: F.tanh(h @ scaled), x)
    assert y.creator.inputs[1] is scaled
    (g,) = cr.grad(y.sum(), [W])
    (h,) = cr.grad(F.tanh(x @ (W * 2.0)).sum(), [W])
    np.testing.assert_allclose(g.data, h.data, rtol=1e-12)


@pytest.mark.parametrize("recording_inside", [False, True])
def test_nested_checkpoints_find_the_inner_weights_and_match_plain(recording_inside):
    rng = np.random.default_rng(6)
    W1, W2 = (cr.Variable(rng.standard_normal((4, 4))) for _ in range(2))
    x = cr.Variable(rng.standard_normal((3, 4)))

    def inner(h):
        return F.dropout(F.tanh(h @ W1), 0.5)

    def outer(h, nested):
        if nested and recording_inside:
            with cr.enable_grad():
                h = cr.checkpoint(inner, h)
        else:
            h = cr.checkpoint(inner, h) if nested else inner(h)
        return F.tanh(h @ W2)

    grads = []
    for nested in (False, True):
        np.random.seed(11)
        y = cr.checkpoint(outer, x, nested) if nested else outer(x, nested)
        grads.append(cr.grad((y * y).sum(), [x, W1, W2]))
        if nested and not recording_inside:
            assert set(map(id, y.creator.inputs)) == {id(x), id(W1), id(W2)}
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a.data, b.data)
