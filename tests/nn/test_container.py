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


def test_module_dict_keeps_insertion_order_and_acts_as_a_dict():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    heads["extra"] = nn.Tanh()
    assert list(heads) == ["cls", "box", "extra"] and len(heads) == 3 and "box" in heads
    assert [n for n, _ in heads.named_parameters()] == ["cls.W", "cls.b", "box.W", "box.b"]
    assert isinstance(heads.pop("extra"), nn.Tanh) and "extra" not in heads
    heads.update([("more", nn.Linear(4, 1))])
    assert list(heads.keys()) == ["cls", "box", "more"]
    assert [type(m).__name__ for m in heads.values()] == ["Linear"] * 3
    assert dict(heads.items())["more"].out_features == 1
    heads.clear()
    assert len(heads) == 0 and list(heads.parameters()) == []


def test_module_dict_refuses_a_name_that_would_hide_a_method():
    with pytest.raises(KeyError, match="'train' would hide"):
        nn.ModuleDict({"train": nn.Linear(2, 2)})


def test_parameter_list_registers_parameters_and_makes_arrays_parameters():
    params = nn.ParameterList([nn.Parameter(np.ones(2)), np.zeros((2, 3))])
    params.append(np.full(4, 2.0))
    assert len(params) == 3 and all(isinstance(p, nn.Parameter) for p in params)
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2"]
    assert params[1].shape == (2, 3) and params[1].dtype == np.float32
    params[0] = np.full(2, 5.0)
    np.testing.assert_array_equal(params[0].data, [5, 5])
    assert isinstance(params[1:], nn.ParameterList) and len(params[1:]) == 2
    assert "(1): Parameter of shape (2, 3)" in repr(params)


def test_parameter_list_inside_a_model_trains():
    class Scales(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([np.ones(3) for _ in range(2)])

        def forward(self, x):
            for scale in self.scales:
                x = x * scale
            return x

    model = Scales()
    assert [n for n, _ in model.named_parameters()] == ["scales.0", "scales.1"]
    model(np.full((2, 3), 2.0, np.float32)).sum().backward()
    np.testing.assert_array_equal(model.scales[0].grad.data, [4, 4, 4])
