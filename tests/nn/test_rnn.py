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


def torch_pairs(layer, twin):
    """chainrule's W_x, W_h, b onto torch's weight_ih_l0, weight_hh_l0, bias_ih_l0 (bias_hh 0)."""
    torch = torch_or_skip()
    with torch.no_grad():
        twin.bias_hh_l0.zero_()
    return [(layer.W_x, twin.weight_ih_l0, np.transpose),
            (layer.W_h, twin.weight_hh_l0, np.transpose), (layer.b, twin.bias_ih_l0, same)]


def test_rnn_shapes():
    layer = nn.RNN(3, 5)
    assert [(n, p.shape) for n, p in layer.named_parameters()] == [
        ("W_x", (3, 5)), ("W_h", (5, 5)), ("b", (5,))]
    out, h = layer(random_input((2, 4, 3)))
    assert out.shape == (2, 4, 5) and h.shape == (2, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data[:, -1], h.data)
    assert repr(layer) == "RNN(3, 5)"


def test_lstm_shapes():
    layer = nn.LSTM(3, 5)
    assert layer.W_x.shape == (3, 20) and layer.W_h.shape == (5, 20) and layer.b.shape == (20,)
    out, (h, c) = layer(random_input((2, 4, 3)))
    assert out.shape == (2, 4, 5) and h.shape == (2, 5) and c.shape == (2, 5)
    np.testing.assert_array_equal(out.data[:, -1], h.data)


@pytest.mark.parametrize("kind", [nn.RNN, nn.LSTM])
@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 2), (2, 0, 3)])
def test_recurrent_layers_refuse_other_than_batch_first_sequences(kind, shape):
    with pytest.raises(ValueError, match=r"expected a batch-first sequence \(N, T, 3\)"):
        kind(3, 4)(random_input(shape))


@pytest.mark.parametrize("initial", [False, True])
def test_rnn_matches_torch(initial):
    torch = torch_or_skip()
    layer, twin = nn.RNN(3, 4), torch.nn.RNN(3, 4, batch_first=True)
    pairs = torch_pairs(layer, twin)
    load_into_torch(pairs)
    x = cr.Variable(random_input((2, 5, 3)))
    t_x = torch.tensor(x.data, requires_grad=True)
    h0 = cr.Variable(random_input((2, 4), seed=1)) if initial else None
    t_h0 = torch.tensor(h0.data[None], requires_grad=True) if initial else None
    (out, h), (t_out, t_h) = layer(x, h0), twin(t_x, t_h0)
    assert_close(out, t_out)
    assert_close(h, t_h[0])
    backward_both(out, t_out)
    assert_same_grads(pairs)
    assert_close(x.grad, t_x.grad)
    if initial:
        assert_close(h0.grad, t_h0.grad[0])


@pytest.mark.parametrize("initial", [False, True])
def test_lstm_matches_torch(initial):
    torch = torch_or_skip()
    layer, twin = nn.LSTM(3, 4), torch.nn.LSTM(3, 4, batch_first=True)
    pairs = torch_pairs(layer, twin)
    load_into_torch(pairs)
    x = cr.Variable(random_input((2, 5, 3)))
    t_x = torch.tensor(x.data, requires_grad=True)
    state = t_state = None
    if initial:
        state = (cr.Variable(random_input((2, 4), 1)), cr.Variable(random_input((2, 4), 2)))
        t_state = tuple(torch.tensor(s.data[None], requires_grad=True) for s in state)
    (out, (h, c)), (t_out, (t_h, t_c)) = layer(x, state), twin(t_x, t_state)
    assert_close(out, t_out)
    assert_close(h, t_h[0])
    assert_close(c, t_c[0])
    loss, t_loss = (out * out).sum() + c.sum(), (t_out * t_out).sum() + t_c.sum()
    backward_both(loss, t_loss)
    assert_same_grads(pairs)
    assert_close(x.grad, t_x.grad)
    if initial:
        for s, t_s in zip(state, t_state):
            assert_close(s.grad, t_s.grad[0])
