import numpy as np
import pytest

from chainrule import nn


def test_sequential_indexing_slicing_append_and_named_children():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(2, 3), relu)
    assert len(model) == 2 and model[1] is relu and model[-1] is relu
    assert isinstance(model[:1], nn.Sequential) and len(model[:1]) == 1
    model.append(nn.Linear(3, 1))
    assert model(np.ones((4, 2), np.float32)).shape == (4, 1)
    assert list(model) == [model[0], relu, model[2]]
    named = nn.Sequential({"hidden": nn.Linear(2, 3), "act": nn.Tanh()})
    assert [n for n, _ in named.named_parameters()] == ["hidden.W", "hidden.b"]


def test_module_list_registers_its_items():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    blocks.append(nn.Linear(2, 1))
    assert len(blocks) == 3 and isinstance(blocks[1:], nn.ModuleList)
    assert [n for n, _ in blocks.named_parameters()][-2:] == ["2.W", "2.b"]
    blocks[0] = nn.Linear(2, 5)
    assert blocks[0].out_features == 5 and next(n for n, _ in blocks.named_children()) == "0"
    with pytest.raises(TypeError, match="must be a Module"):
        blocks.append(np.ones(2))
