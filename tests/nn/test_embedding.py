import numpy as np

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
