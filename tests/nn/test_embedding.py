import numpy as np
import pytest

from chainrule import nn

from .twin import (
    assert_close,
    assert_same_grads,
    backward_both,
    load_into_torch,
    same,
    torch_or_skip,
)


def test_embedding_looks_up_rows():
    layer = nn.Embedding(10, 4)
    assert layer.W.shape == (10, 4) and layer.W.dtype == np.float32
    ids = np.array([[1, 2, 1], [9, 0, 3]])
    y = layer(ids)
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(y.data, layer.W.data[ids])
    assert repr(layer) == "Embedding(10, 4)"


def test_repeated_ids_accumulate_their_gradients():
    layer = nn.Embedding(5, 3)
    layer(np.array([2, 2, 4])).sum().backward()
    np.testing.assert_array_equal(layer.W.grad.data[:, 0], [0, 0, 2, 0, 1])


def test_embedding_matches_torch():
    torch = torch_or_skip()
    layer, twin = nn.Embedding(7, 3), torch.nn.Embedding(7, 3)
    pairs = [(layer.W, twin.weight, same)]
    load_into_torch(pairs)
    ids = np.array([[0, 6, 6], [3, 1, 0]])
    y, t_y = layer(ids), twin(torch.tensor(ids))
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs)


def test_padding_idx_starts_at_zero_and_gets_no_gradient():
    layer = nn.Embedding(5, 3, padding_idx=-1)
    assert layer.padding_idx == 4 and repr(layer) == "Embedding(5, 3, padding_idx=4)"
    np.testing.assert_array_equal(layer.W.data[4], 0)
    layer.W.data[4] = 7  # a loaded padding vector is still used, still not trained
    ids = np.array([[1, 4, 4], [4, 2, 1]])
    y = layer(ids)
    np.testing.assert_array_equal(y.data, layer.W.data[ids])
    y.sum().backward()
    np.testing.assert_array_equal(layer.W.grad.data[:, 0], [0, 2, 1, 0, 0])


def test_padding_idx_matches_torch():
    torch = torch_or_skip()
    layer, twin = nn.Embedding(6, 3, padding_idx=2), torch.nn.Embedding(6, 3, padding_idx=2)
    pairs = [(layer.W, twin.weight, same)]
    load_into_torch(pairs)
    ids = np.array([[2, 0, 2, 5], [1, 2, 3, 3]])
    y, t_y = layer(ids), twin(torch.tensor(ids))
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_same_grads(pairs)


def test_from_pretrained_copies_and_freezes():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    layer = nn.Embedding.from_pretrained(table)
    table[0] = -1
    assert layer.W.data[0, 0] == 0 and not layer.W.requires_grad
    assert nn.Embedding.from_pretrained(table, freeze=False).W.requires_grad
    with pytest.raises(ValueError, match="padding_idx 4 is outside"):
        nn.Embedding(4, 2, padding_idx=4)
