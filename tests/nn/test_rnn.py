"""Recurrent layers and cells: PyTorch's names and layouts, the NumPy reference, torch itself."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from recurrences import layers as reference_layers
from recurrences import run as reference_run

from .twin import (
    assert_close,
    assert_same_grads,
    load_into_torch,
    random_input,
    same,
    torch_or_skip,
)

PREFIXES = {"W_x": "weight_ih", "W_h": "weight_hh", "b_x": "bias_ih", "b_h": "bias_hh"}
LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


def torch_name(name):
    """The documented rule: one prefix substituted, the suffix (_l0, _l1_reverse) kept."""
    key, rest = name[:3], name[3:]
    return PREFIXES[key] + rest


def torch_twin(module):
    """The same architecture in torch, holding ``module``'s weights; and the pairs."""
    torch = torch_or_skip()
    kind = type(module).__name__
    if kind in CELLS:
        twin = getattr(torch.nn, kind)(module.input_size, module.hidden_size, bias=module.bias)
    else:
        twin = getattr(torch.nn, kind)(
            module.input_size, module.hidden_size, num_layers=module.num_layers,
            bias=module.bias, batch_first=module.batch_first,
            bidirectional=module.bidirectional)
    theirs = dict(twin.named_parameters())
    pairs = [(p, theirs[torch_name(n)], np.transpose if p.ndim == 2 else same)
             for n, p in module.named_parameters()]
    assert [torch_name(n) for n, _ in module.named_parameters()] == list(theirs)
    load_into_torch(pairs)
    return twin, pairs


def test_parameter_names_follow_torch_by_one_substitution():
    layer = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    names = [n for n, _ in layer.named_parameters()]
    assert names[:4] == ["W_x_l0", "W_h_l0", "b_x_l0", "b_h_l0"]
    assert names[4:8] == ["W_x_l0_reverse", "W_h_l0_reverse", "b_x_l0_reverse", "b_h_l0_reverse"]
    assert layer.W_x_l0.shape == (3, 20) and layer.W_x_l1.shape == (10, 20)
    assert layer.W_h_l1_reverse.shape == (5, 20) and layer.b_h_l1.shape == (20,)
    assert [n for n, _ in nn.GRUCell(3, 4, bias=False).named_parameters()] == ["W_x", "W_h"]
    assert nn.GRUCell(3, 4).W_h.shape == (4, 12)


def test_shapes_and_the_default_layout():
    out, (h, c) = nn.LSTM(3, 5)(random_input((2, 4, 3)))  # batch-first by default
    assert out.shape == (2, 4, 5) and h.shape == (1, 2, 5) and c.shape == (1, 2, 5)  # torch's
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data[:, -1], h.data[0])
    out, h = nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=False)(
        random_input((4, 2, 3)))
    assert out.shape == (4, 2, 10) and h.shape == (4, 2, 5)
    np.testing.assert_array_equal(out.data[-1, :, :5], h.data[2])
    np.testing.assert_array_equal(out.data[0, :, 5:], h.data[3])


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(nn.RNN(3, 5)) == "RNN(3, 5)"
    assert repr(nn.LSTM(3, 5, 2, bias=False, batch_first=False, dropout=0.5,
                        bidirectional=True)) == (
        "LSTM(3, 5, num_layers=2, bias=False, batch_first=False, dropout=0.5, "
        "bidirectional=True)")
    assert repr(nn.RNNCell(3, 5, nonlinearity="relu")) == "RNNCell(3, 5, nonlinearity='relu')"


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 2), (2, 0, 3)])
def test_layers_refuse_other_sequences(kind, shape):
    with pytest.raises(ValueError, match=r"expected a batch-first sequence \(N, T, C\) with C = 3"):
        LAYERS[kind](3, 4)(random_input(shape))


def test_initial_states_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"initial state must be \(2, 2, 4\), got \(2, 4\)"):
        nn.GRU(3, 4, num_layers=2)(random_input((2, 5, 3)), random_input((2, 4)))
    with pytest.raises(TypeError, match=r"LSTM: state must be a pair \(h, c\)"):
        nn.LSTM(3, 4)(random_input((2, 5, 3)), random_input((2, 4)))


def reference_weights(module):
    suffixes = [[f"_l{k}", f"_l{k}_reverse"][: module.directions]
                for k in range(module.num_layers)]
    return [[tuple(getattr(module, key + s).data.astype(np.float64)
                   for key in ("W_x", "W_h", "b_x", "b_h")) for s in row] for row in suffixes]


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize(("num_layers", "bidirectional", "batch_first"),
                         [(1, False, True), (2, True, False), (3, False, False)])
def test_layers_match_the_numpy_reference(kind, num_layers, bidirectional, batch_first):
    module = LAYERS[kind](3, 4, num_layers, bidirectional=bidirectional,
                          batch_first=batch_first, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    count, carried = module.num_layers * module.directions, 2 if kind == "LSTM" else 1
    batch = 2 if batch_first else 5
    states = [np.random.default_rng(i + 1).standard_normal((count, batch, 4))
              for i in range(carried)]
    given = tuple(states) if kind == "LSTM" else states[0]
    out, final = module(x, given)
    time_major = np.moveaxis(x, 1, 0) if batch_first else x
    carries = [tuple(s[i] for s in states) for i in range(count)]
    ref_out, ref_finals = reference_layers(kind.lower(), time_major, reference_weights(module),
                                           num_layers, module.directions, carries)
    ref_out = np.moveaxis(ref_out, 0, 1) if batch_first else ref_out
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-10, atol=1e-12)
    finals = final if kind == "LSTM" else (final,)
    for j, f in enumerate(finals):
        np.testing.assert_allclose(f.data, np.stack([r[j] for r in ref_finals]), rtol=1e-10)


@pytest.mark.parametrize("kind", CELLS)
def test_cells_match_the_numpy_reference(kind):
    cell = CELLS[kind](3, 4, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 3))
    carry = tuple(np.random.default_rng(i).standard_normal((2, 4)) for i in (1, 2))
    carry = carry if kind == "LSTMCell" else carry[:1]
    ours = cell(x, carry if kind == "LSTMCell" else carry[0])
    ours = ours if isinstance(ours, tuple) else (ours,)
    xw = (x @ cell.W_x.data + cell.b_x.data)[None]
    _, ref = reference_run(kind[:-4].lower(), xw, cell.W_h.data, cell.b_h.data, carry)
    for y, r in zip(ours, ref):
        np.testing.assert_allclose(y.data, r, rtol=1e-12)


def test_cells_take_an_unbatched_sample():
    cell = nn.LSTMCell(3, 4)
    h, c = cell(random_input((3,)))
    assert h.shape == (4,) and c.shape == (4,)
    h2, _ = cell(random_input((1, 3)))
    np.testing.assert_array_equal(h.data, h2.data[0])


def test_gradcheck_through_a_stacked_bidirectional_gru_in_float64():
    module = nn.GRU(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    h0 = np.random.default_rng(1).standard_normal((4, 2, 3))

    def fn(x, h0):
        out, h = module(x, h0)
        return out.sum() + (h * h).sum()

    cr.gradcheck(fn, [x, h0], order=2)


def test_gradcheck_through_an_lstm_cell_run_twice_in_float64():
    cell = nn.LSTMCell(2, 3, dtype=np.float64)
    rng = np.random.default_rng(0)

    def fn(x, h, c):
        h, c = cell(x, (h, c))
        h, c = cell(x, (h, c))
        return h * c

    cr.gradcheck(fn, [rng.standard_normal((2, 2)), rng.standard_normal((2, 3)),
                      rng.standard_normal((2, 3))], order=2)


def test_dropout_between_layers_only_in_training():
    module = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = random_input((2, 5, 3))
    module.eval()
    a, _ = module(x)
    b, _ = module(x)
    np.testing.assert_array_equal(a.data, b.data)
    module.train()
    np.random.seed(0)
    c, _ = module(x)
    assert not np.allclose(a.data, c.data)
    assert nn.LSTM(3, 4, dropout=0.5)(x)[0].shape == (2, 5, 4)


CONFIGS = [  # (num_layers, bidirectional, batch_first, initial state)
    (1, False, True, None), (1, False, True, "2-D"), (1, False, False, "3-D"),
    (2, True, True, "3-D"), (2, False, False, None), (1, True, True, None),
]


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize(("num_layers", "bidirectional", "batch_first", "initial"), CONFIGS)
def test_layers_match_torch(kind, num_layers, bidirectional, batch_first, initial):
    torch = torch_or_skip()
    module = LAYERS[kind](3, 4, num_layers, bidirectional=bidirectional, batch_first=batch_first)
    twin, pairs = torch_twin(module)
    x = cr.Variable(random_input((2, 5, 3)))
    t_x = torch.tensor(x.data, requires_grad=True)
    count = num_layers * module.directions
    carried = 2 if kind == "LSTM" else 1
    batch = 2 if batch_first else 5
    states = t_states = None
    if initial is not None:
        arrays = [random_input((count, batch, 4), seed=i + 1) for i in range(carried)]
        states = [cr.Variable(a[0] if initial == "2-D" else a) for a in arrays]
        t_states = [torch.tensor(a, requires_grad=True) for a in arrays]
    if kind == "LSTM":
        states, t_states = (None, None) if states is None else (tuple(states), tuple(t_states))
    else:
        states, t_states = (None, None) if states is None else (states[0], t_states[0])
    (out, final), (t_out, t_final) = module(x, states), twin(t_x, t_states)
    assert_close(out, t_out)
    finals = final if kind == "LSTM" else (final,)
    t_finals = t_final if kind == "LSTM" else (t_final,)
    for f, t_f in zip(finals, t_finals):
        assert f.shape == (count, batch, 4)  # torch's form, whatever form the initial state had
        assert_close(f, t_f)
    gy = random_input(out.shape, seed=7)
    loss = (out * cr.Variable(gy)).sum() + sum((f * f).sum() for f in finals)
    t_loss = (t_out * torch.from_numpy(gy)).sum() + sum((f * f).sum() for f in t_finals)
    loss.backward()
    t_loss.backward()
    assert_same_grads(pairs)
    assert_close(x.grad, t_x.grad)
    if initial is not None:
        ours = states if kind == "LSTM" else (states,)
        theirs = t_states if kind == "LSTM" else (t_states,)
        for s, t_s in zip(ours, theirs):
            assert_close(s.grad, t_s.grad[0] if initial == "2-D" else t_s.grad)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(kind, bias):
    torch = torch_or_skip()
    cell = CELLS[kind](3, 4, bias=bias)
    twin, pairs = torch_twin(cell)
    x = cr.Variable(random_input((2, 3)))
    t_x = torch.tensor(x.data, requires_grad=True)
    arrays = [random_input((2, 4), seed=i + 1) for i in range(2)]
    states = [cr.Variable(a) for a in arrays]
    t_states = [torch.tensor(a, requires_grad=True) for a in arrays]
    if kind == "LSTMCell":
        ours, theirs = cell(x, tuple(states)), twin(t_x, tuple(t_states))
    else:
        ours, theirs = (cell(x, states[0]),), (twin(t_x, t_states[0]),)
        states, t_states = states[:1], t_states[:1]
    loss, t_loss = 0, 0
    for k, (y, t_y) in enumerate(zip(ours, theirs)):
        assert_close(y, t_y)
        loss = loss + (y * (k + 1.5)).sum() * y.sum()
        t_loss = t_loss + (t_y * (k + 1.5)).sum() * t_y.sum()
    loss.backward()
    t_loss.backward()
    assert_same_grads(pairs)
    assert_close(x.grad, t_x.grad)
    for s, t_s in zip(states, t_states):
        assert_close(s.grad, t_s.grad)


def test_relu_rnn_matches_torch():
    torch = torch_or_skip()
    module = nn.RNN(3, 4, nonlinearity="relu", batch_first=False)
    twin = torch.nn.RNN(3, 4, nonlinearity="relu")
    theirs = dict(twin.named_parameters())
    pairs = [(p, theirs[torch_name(n)], np.transpose if p.ndim == 2 else same)
             for n, p in module.named_parameters()]
    load_into_torch(pairs)
    x = random_input((5, 2, 3))
    (out, h), (t_out, t_h) = module(x), twin(torch.from_numpy(x))
    assert_close(out, t_out)
    assert_close(h, t_h)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize(("num_layers", "bidirectional", "batch_first"),
                         [(1, False, True), (2, True, False)])
def test_an_embedding_in_front_matches_torch(kind, num_layers, bidirectional, batch_first):
    """Fed an embedding's rows, the first layer projects the table (nn/rnn.py, _embedded)."""
    torch = torch_or_skip()
    module = LAYERS[kind](3, 4, num_layers, bidirectional=bidirectional, batch_first=batch_first)
    twin, pairs = torch_twin(module)
    embed = nn.Embedding(5, 3)
    t_embed = torch.nn.Embedding(5, 3)
    pairs.append((embed.W, t_embed.weight, same))
    load_into_torch(pairs)
    ids = np.random.default_rng(0).integers(0, 5, (2, 6))  # 12 ids for 5 rows: the table
    (out, _), (t_out, _) = module(embed(ids)), twin(t_embed(torch.from_numpy(ids)))
    assert_close(out, t_out)
    gy = random_input(out.shape, seed=7)
    (out * cr.Variable(gy)).sum().backward()
    (t_out * torch.from_numpy(gy)).sum().backward()
    assert_same_grads(pairs)


def test_an_embedding_whose_gradient_is_asked_for_goes_the_plain_way():
    module, embed = nn.LSTM(3, 4), nn.Embedding(5, 3)
    ids = np.random.default_rng(0).integers(0, 5, (2, 6))
    module(embed(ids))[0].sum().backward()
    fused = embed.W.grad.data.copy()
    embed.W.grad = None
    x = embed(ids)
    x.retain_grad()
    module(x)[0].sum().backward()
    assert x.grad is not None and x.grad.shape == (2, 6, 3)
    np.testing.assert_allclose(embed.W.grad.data, fused, rtol=1e-5, atol=1e-6)


def test_an_embedding_written_since_the_lookup_is_read_as_it_is_now():
    """x = W_e[ids], then W_e or x written in place: the layer reads x, not the table."""
    module, embed = nn.LSTM(3, 4), nn.Embedding(5, 3)
    ids = np.random.default_rng(0).integers(0, 5, (2, 6))
    for written in ("table", "rows"):
        x = embed(ids)
        expected = module(cr.Variable(x.data.copy() + (written == "rows")))[0].data
        if written == "table":
            embed.W.data[...] += 1
            expected = module(cr.Variable(x.data.copy()))[0].data
        else:
            x.data[...] += 1
        np.testing.assert_allclose(module(x)[0].data, expected, rtol=1e-6)


def test_gradcheck_through_an_embedding_and_an_lstm_in_float64():
    module = nn.LSTM(2, 3, dtype=np.float64)
    ids = np.random.default_rng(0).integers(0, 4, (2, 3))

    def fn(W):
        out, (h, c) = module(cr.functions.embedding(ids, W))
        return out.sum() + (c * c).sum()

    cr.gradcheck(fn, [np.random.default_rng(1).standard_normal((4, 2))], order=2)
