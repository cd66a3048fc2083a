import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import backend, nn


class Block(nn.Module):
    """Parameters and submodules interleaved, to pin down the registration order."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))
        self.fc1 = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.fc2 = nn.Linear(4, 2)
        self.shift = nn.Parameter(np.zeros(2))

    def forward(self, x):
        return self.fc2(F.relu(self.norm(self.fc1(x * self.scale)))) + self.shift


def test_parameters_come_in_definition_order_own_first_then_children():
    names = [name for name, _ in Block().named_parameters()]
    assert names == ["scale", "shift", "fc1.W", "fc1.b", "norm.gamma", "norm.beta",
                     "fc2.W", "fc2.b"]
    model = Block()
    assert [id(p) for p in model.parameters()] == [
        id(p) for p in (model.scale, model.shift, model.fc1.W, model.fc1.b, model.norm.gamma,
                        model.norm.beta, model.fc2.W, model.fc2.b)]


def test_parameter_order_is_the_same_whatever_the_hash_seed():
    # data-parallel ranks match parameters by position, so no hash may decide the order
    code = ("from chainrule import nn; m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)); "
            "m.zeta = nn.Parameter([1.0]); m.alpha = nn.Parameter([2.0]); "
            "print(list(m.state_dict()))")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, env={"PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3")
    }
    assert outputs == {("['zeta', 'alpha', '0.W', '0.b', '1.gamma', '1.beta', "
                       "'1.running_mean', '1.running_var']\n")}


def test_named_parameters_of_nested_sequential_use_dotted_names():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3)))
    assert [n for n, _ in model.named_parameters()] == ["0.W", "0.b", "2.0.W", "2.0.b"]
    assert next(n for n, _ in model.named_parameters(prefix="net")) == "net.0.W"
    assert list(model.parameters(recurse=False)) == []


def test_a_shared_parameter_is_listed_once():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[1].W = model[0].W
    assert [n for n, _ in model.named_parameters()] == ["0.W", "0.b", "1.b"]


def test_reassigning_keeps_the_position_and_none_removes_the_parameter():
    model = Block()
    model.fc1 = nn.Linear(3, 4)
    model.scale = nn.Parameter(np.full(3, 2.0))
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["scale", "shift", "fc1.W"]
    model.shift = None
    assert "shift" not in dict(model.named_parameters()) and model.shift is None


def test_deleting_an_attribute_unregisters_it():
    model = Block()
    del model.fc2
    assert not any(name.startswith("fc2") for name, _ in model.named_parameters())


def test_plain_values_are_not_registered():
    model = nn.Module()
    model.array = np.ones(2)
    model.variable = cr.Variable(np.ones(2))
    model.rate = 0.1
    assert list(model.parameters()) == [] and model.state_dict() == {}


def test_assigning_a_non_parameter_to_a_parameter_name_is_a_type_error():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Linear: cannot assign ndarray to 'W'"):
        layer.W = np.ones((2, 2))


def test_forgetting_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_register_buffer_and_parameter_by_name():
    module = nn.Module()
    module.register_parameter("w", nn.Parameter(np.ones(2)))
    module.register_parameter("bias", None)
    module.register_buffer("count", np.zeros(1))
    assert [n for n, _ in module.named_parameters()] == ["w"]
    assert [n for n, _ in module.named_buffers()] == ["count"]
    module.count = np.ones(1)
    assert next(iter(module.buffers())) is module.count
    with pytest.raises(ValueError, match="without '.'"):
        module.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError, match="buffer 'count' must be an array"):
        module.count = "nope"


def test_children_and_modules_walk_the_tree_parents_first():
    model = Block()
    assert [n for n, _ in model.named_children()] == ["fc1", "norm", "fc2"]
    assert list(model.children()) == [model.fc1, model.norm, model.fc2]
    assert [n for n, _ in model.named_modules()] == ["", "fc1", "norm", "fc2"]
    assert next(iter(model.modules())) is model
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "BatchNorm1d", "Linear", "Block"]


def test_call_runs_forward_and_every_parameter_gets_a_gradient():
    model = Block()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    model(x).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.shape == param.shape and param.grad.dtype == np.float32, name
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module defines no forward"):
        nn.Module()(1)


def test_train_and_eval_set_the_flag_everywhere_and_return_self():
    model = Block()
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    assert model.train(False) is model and not model.fc1.training


def test_state_dict_holds_copies_of_parameters_then_buffers():
    model = Block()
    state = model.state_dict()
    assert list(state) == ["scale", "shift", "fc1.W", "fc1.b", "norm.gamma", "norm.beta",
                           "norm.running_mean", "norm.running_var", "fc2.W", "fc2.b"]
    assert all(type(v) is np.ndarray for v in state.values())
    state["fc1.W"][...] = 7.0
    assert not np.any(model.fc1.W.data == 7.0)


def test_state_dict_round_trip_gives_identical_outputs():
    x = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    source = Block()
    source(x)  # one training step moves the running statistics
    source.eval()
    target = Block().eval()
    result = target.load_state_dict(source.state_dict())
    assert result == nn.LoadResult([], [])
    np.testing.assert_array_equal(target(x).data, source(x).data)
    np.testing.assert_array_equal(target.norm.running_mean, source.norm.running_mean)


def test_state_dict_survives_a_safetensors_file(tmp_path):
    pytest.importorskip("safetensors")
    from chainrule.serialization import load, save

    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    source, target = Block(), Block()
    source(x)
    save(source.state_dict(), tmp_path / "block.safetensors")
    target.load_state_dict(load(tmp_path / "block.safetensors"))
    np.testing.assert_array_equal(target.eval()(x).data, source.eval()(x).data)


def test_load_state_dict_keeps_dtype_and_copies():
    model = nn.Linear(2, 3)
    state = {"W": np.ones((2, 3)), "b": np.zeros(3)}
    model.load_state_dict(state)
    assert model.W.dtype == np.float32
    state["W"][...] = 5.0
    assert np.all(model.W.data == 1.0)


def test_load_state_dict_lists_every_problem_in_one_error():
    model = Block()
    state = model.state_dict()
    del state["fc1.b"], state["norm.running_var"]
    state["fc3.W"] = np.zeros((2, 2))
    state["fc2.W"] = np.zeros((2, 4))
    before = model.scale.data.copy()
    state["scale"] = before + 1
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert message.startswith("Block.load_state_dict: missing keys: fc1.b, norm.running_var")
    assert "unexpected keys: fc3.W" in message
    assert "mis-shaped keys: fc2.W (expected (4, 2), got (2, 4))" in message
    np.testing.assert_array_equal(model.scale.data, before)  # nothing was loaded


def test_load_state_dict_not_strict_returns_missing_and_unexpected_but_refuses_bad_shapes():
    model = nn.Linear(2, 3)
    result = model.load_state_dict({"W": np.ones((2, 3)), "extra": np.ones(1)}, strict=False)
    assert result.missing_keys == ["b"] and result.unexpected_keys == ["extra"]
    assert np.all(model.W.data == 1.0)
    with pytest.raises(ValueError, match=r"mis-shaped keys: W \(expected \(2, 3\)"):
        model.load_state_dict({"W": np.ones(3)}, strict=False)


def test_to_cpu_keeps_numpy_arrays_and_returns_self():
    model = Block()
    model(np.ones((2, 3), np.float32)).sum().backward()
    assert model.to("cpu") is model and model.cpu() is model
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())
    assert type(model.norm.running_mean) is np.ndarray
    with pytest.raises(ValueError, match="unknown device"):
        model.to("tpu")


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is available here")
def test_to_cuda_without_a_gpu_names_the_extra():
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r'pip install "chainrule\[gpu\]"'):
        model.to("cuda")
    assert isinstance(model.W.data, np.ndarray)


def test_repr_is_nested_like_torch():
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Sequential(nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=100)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


LAYERS = {
    "Linear": (lambda: nn.Linear(3, 2), (4, 3)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, pad=1), (2, 2, 5, 5)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), (2, 2, 3, 3)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm((2, 3)), (4, 2, 3)),
    "RNN": (lambda: nn.RNN(3, 4), (2, 5, 3)),
    "LSTM": (lambda: nn.LSTM(3, 4), (2, 5, 3)),
    "GRU": (lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True), (2, 5, 3)),
}


@pytest.mark.parametrize(("make", "shape"), LAYERS.values(), ids=LAYERS.keys())
def test_every_layer_keeps_float32_and_sends_a_gradient_to_every_parameter(make, shape):
    layer = make()
    rng = np.random.default_rng(0)
    y = layer(rng.standard_normal(shape).astype(np.float32))
    y = y[0] if isinstance(y, tuple) else y
    assert y.dtype == np.float32
    (y * rng.standard_normal(y.shape).astype(np.float32)).sum().backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and param.grad.shape == param.shape, name
        assert param.grad.dtype == np.float32 and np.any(param.grad.data != 0), name


def test_embedding_sends_its_gradient_to_the_table():
    layer = nn.Embedding(5, 2)
    layer(np.array([[0, 4]])).sum().backward()
    assert layer.W.grad.dtype == np.float32 and layer.W.grad.shape == (5, 2)


def test_non_persistent_buffers_move_but_are_not_saved():
    model = nn.Sequential(nn.Linear(2, 2))
    model.register_buffer("cache", np.ones(3, np.float32), persistent=False)
    model.register_buffer("kept", np.zeros(1, np.float32))
    assert "cache" not in model.state_dict() and "kept" in model.state_dict()
    assert "cache" not in nn.export_torch_state_dict(model)
    assert [n for n, _ in model.named_buffers()] == ["cache", "kept"]
    assert model.to(np.float64).cache.dtype == np.float64
    model.register_buffer("cache", np.ones(3), persistent=True)
    assert "cache" in model.state_dict()


def test_zero_grad_clears_or_zeroes_in_place():
    layer = nn.Linear(2, 2)
    layer(np.ones((1, 2), np.float32)).sum().backward()
    grad = layer.W.grad
    layer.zero_grad(set_to_none=False)
    assert layer.W.grad is grad and not grad.data.any()
    layer.zero_grad()
    assert layer.W.grad is None


def test_get_submodule_and_get_parameter_follow_dotted_paths():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 1)))
    assert model.get_submodule("1.1") is model[1][1] and model.get_submodule("") is model
    assert model.get_parameter("1.1.b") is model[1][1].b
    with pytest.raises(AttributeError, match=r"no submodule '1.5' \(Sequential has no '5'\)"):
        model.get_submodule("1.5")
    with pytest.raises(AttributeError, match="no parameter '0.gamma'"):
        model.get_parameter("0.gamma")
    model.register_module("head", nn.Identity())
    assert model.get_submodule("head") is model.head
