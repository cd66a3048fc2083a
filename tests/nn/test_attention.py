import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import assert_close, random_input, torch_or_skip


def numpy_attention(layer, q, k, v, mask=None):
    """The layer's formula in NumPy, batch-first (N, L, E): the torch-free reference."""
    e, h = layer.embed_dim, layer.num_heads
    W, b = layer.W_in.data, layer.b_in.data
    Q, K, V = (x @ W[:, i * e:(i + 1) * e] + b[i * e:(i + 1) * e] for i, x in enumerate((q, k, v)))
    split = lambda x: x.reshape(x.shape[0], x.shape[1], h, e // h).transpose(0, 2, 1, 3)  # noqa: E731
    Q, K, V = split(Q), split(K), split(V)
    scores = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(e // h)
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = (weights @ V).transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return out @ layer.out_proj.W.data + layer.out_proj.b.data, weights.mean(1)


def test_attention_matches_its_numpy_formula_with_a_causal_mask():
    layer = nn.MultiheadAttention(8, 2, batch_first=True)
    layer.b_in.data[:] = np.random.default_rng(1).standard_normal(24)
    q = random_input((3, 5, 8))
    out, weights = layer(q, q, q, is_causal=True)
    causal = np.triu(np.ones((5, 5), bool), k=1)
    want_out, want_weights = numpy_attention(layer, q, q, q, causal)
    np.testing.assert_allclose(out.data, want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.data, want_weights, rtol=1e-5, atol=1e-6)
    assert np.all(weights.data[:, 0, 1:] == 0)


def test_attention_shapes_sequence_first_unbatched_and_per_head():
    layer = nn.MultiheadAttention(6, 3, kdim=4, vdim=5)
    assert [n for n, _ in layer.named_parameters()] == [
        "W_q", "W_k", "W_v", "b_in", "out_proj.W", "out_proj.b"]
    q, k, v = random_input((7, 2, 6)), random_input((4, 2, 4)), random_input((4, 2, 5))
    out, weights = layer(q, k, v, average_attn_weights=False)
    assert out.shape == (7, 2, 6) and weights.shape == (2, 3, 7, 4)
    out, weights = layer(q[:, 0], k[:, 0], v[:, 0])
    assert out.shape == (7, 6) and weights.shape == (7, 4)
    assert layer(q, k, v, need_weights=False)[1] is None


def test_attention_sends_gradients_to_every_input_and_parameter():
    layer = nn.MultiheadAttention(4, 2, dropout=0.0).double()
    q, k = (np.random.default_rng(s).standard_normal((3, 2, 4)) for s in (0, 1))
    cr.gradcheck(lambda q, k: layer(q, k, k)[0], [q, k])
    out, _ = layer(cr.Variable(q), cr.Variable(k), cr.Variable(k))
    out.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_attention_dropout_acts_only_in_training():
    layer = nn.MultiheadAttention(4, 1, dropout=0.5, batch_first=True)
    q = random_input((2, 6, 4))
    np.random.seed(0)
    assert not np.allclose(layer(q, q, q)[1].data.sum(-1), 1.0)
    layer.eval()
    np.testing.assert_allclose(layer(q, q, q)[1].data.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"attn_mask": np.zeros((2, 2), bool)}, r"attn_mask must be \(5, 5\)"),
     ({"key_padding_mask": np.zeros((3, 5), bool)}, r"key_padding_mask must be \(2, 5\)"),
     ({"attn_mask": np.zeros((5, 5), np.int64)}, "must be bool or float")],
)
def test_attention_mask_errors_name_the_mask_and_shapes(kwargs, message):
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    q = random_input((2, 5, 4))
    with pytest.raises((ValueError, TypeError), match=message):
        layer(q, q, q, **kwargs)


def test_attention_refuses_bad_sizes():
    with pytest.raises(ValueError, match="embed_dim 6 is not divisible by num_heads 4"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
    with pytest.raises(ValueError, match="all be 3-D"):
        nn.MultiheadAttention(4, 2)(random_input((3, 4)), random_input((3, 2, 4)),
                                    random_input((3, 2, 4)))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(
    "masks", ["none", "padding", "float attn and padding", "3-D bool attn", "per head"])
def test_attention_matches_torch(batch_first, masks):
    torch = torch_or_skip()
    layer = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    twin = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    twin.in_proj_bias.data.normal_()
    nn.load_torch_state_dict(layer, twin.state_dict())
    shape_q, shape_k = ((3, 5, 8), (3, 4, 8)) if batch_first else ((5, 3, 8), (4, 3, 8))
    q, k = random_input(shape_q), random_input(shape_k, seed=1)
    padding = np.zeros((3, 4), bool)
    padding[0, -2:] = True
    hidden = np.random.default_rng(3).random((6, 5, 4)) < 0.3
    hidden[..., 0] = False  # every query sees a key: no row of -inf
    kwargs = {
        "none": {},
        "padding": {"key_padding_mask": padding},
        "float attn and padding": {"attn_mask": random_input((5, 4), 2),
                                   "key_padding_mask": padding.astype(np.float32) * -1e9},
        "3-D bool attn": {"attn_mask": hidden},
        "per head": {"average_attn_weights": False},
    }[masks]
    t_kwargs = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kwargs.items()}
    xs = [cr.Variable(a) for a in (q, k, k)]
    t_xs = [torch.tensor(a, requires_grad=True) for a in (q, k, k)]
    out, weights = layer(*xs, **kwargs)
    t_out, t_weights = twin(*t_xs, **t_kwargs)
    assert_close(out, t_out)
    assert_close(weights, t_weights)
    gy = random_input(out.shape, seed=4)
    (out * gy).sum().backward()
    (t_out * torch.tensor(gy)).sum().backward()
    for x, t_x in zip(xs, t_xs):
        assert_close(x.grad, t_x.grad, atol=1e-5)
    assert_close(layer.W_in.grad.T, twin.in_proj_weight.grad, atol=1e-5)
