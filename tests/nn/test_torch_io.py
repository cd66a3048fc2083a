"""PyTorch state dicts in and out: the mapping alone (no torch), then real twins (with torch)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import random_input, torch_or_skip


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, pad=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


class Custom(nn.Module):
    """A layer chainrule has no codec for: its own names are kept."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.arange(3.0))
        self.register_buffer("offset", np.ones(3, np.float32))
        self.embed = nn.Embedding(5, 3)
        self.norm = nn.LayerNorm(3)

    def forward(self, ids):
        return self.norm(self.embed(ids) * self.scale + self.offset)


def test_export_uses_pytorch_names_and_layouts():
    model = cnn()
    state = nn.export_torch_state_dict(model)
    assert list(state) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "7.weight", "7.bias", "8.weight", "8.bias",
        "8.running_mean", "8.running_var", "8.num_batches_tracked", "10.weight", "10.bias"]
    np.testing.assert_array_equal(state["7.weight"], model[7].W.data.T)
    assert state["7.weight"].flags.c_contiguous and state["7.weight"] is not model[7].W.data
    assert state["1.num_batches_tracked"].shape == () and state["1.num_batches_tracked"] == 0
    np.testing.assert_array_equal(state["8.weight"], model[8].gamma.data)


def test_export_then_load_round_trips_every_array_and_the_batch_count():
    source, target = cnn(), cnn()
    for _ in range(3):
        source(random_input((2, 1, 8, 8)))
    state = nn.export_torch_state_dict(source)
    assert state["1.num_batches_tracked"] == 3
    result = nn.load_torch_state_dict(target, state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert target[1].num_batches_tracked == 3
    source.eval(), target.eval()
    x = random_input((2, 1, 8, 8))
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_unknown_modules_keep_their_own_names():
    state = nn.export_torch_state_dict(Custom())
    assert list(state) == ["scale", "offset", "embed.weight", "norm.weight", "norm.bias"]
    model = Custom()
    nn.load_torch_state_dict(model, {**state, "scale": np.full(3, 7.0)})
    np.testing.assert_array_equal(model.scale.data, [7, 7, 7])
    assert model.scale.dtype == np.float32  # the model's dtype, not the file's


def test_problems_are_listed_in_one_error_with_pytorch_names_and_nothing_is_loaded():
    model = cnn()
    before = model[0].W.data.copy()
    state = nn.export_torch_state_dict(cnn())
    del state["1.running_var"]
    state["7.weight"] = np.zeros((6, 8), np.float32)  # chainrule's layout, not PyTorch's
    state["module.extra"] = np.zeros(1)
    with pytest.raises(ValueError) as error:
        nn.load_torch_state_dict(model, state)
    assert str(error.value) == (
        "load_torch_state_dict into Sequential: missing keys: 1.running_var; unexpected "
        "keys: module.extra; mis-shaped keys: 7.weight (expected (8, 6), got (6, 8))")
    np.testing.assert_array_equal(model[0].W.data, before)


def test_not_strict_tolerates_missing_and_unexpected_keys_and_returns_them():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    state = {"0.weight": np.ones((3, 2)), "0.bias": np.ones(3), "head.weight": np.ones(1)}
    result = nn.load_torch_state_dict(model, state, strict=False)
    assert result.missing_keys == ["1.weight", "1.bias"]
    assert result.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(model[0].W.data, np.ones((2, 3)))


def test_a_layer_without_bias_has_no_bias_key():
    model = nn.Sequential(nn.Linear(2, 3, bias=False))
    with pytest.raises(ValueError, match="unexpected keys: 0.bias"):
        nn.load_torch_state_dict(model, {"0.weight": np.ones((3, 2)), "0.bias": np.ones(3)})


def test_attention_packs_its_projection_as_pytorch_does():
    layer = nn.MultiheadAttention(4, 2)
    state = nn.export_torch_state_dict(layer)
    assert list(state) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    np.testing.assert_array_equal(state["in_proj_weight"], layer.W_in.data.T)
    separate = nn.export_torch_state_dict(nn.MultiheadAttention(4, 2, kdim=3, vdim=5))
    assert {k: v.shape for k, v in separate.items() if "proj_weight" in k} == {
        "q_proj_weight": (4, 4), "k_proj_weight": (4, 3), "v_proj_weight": (4, 5)}


def test_recurrent_parameters_take_pytorch_prefixes_and_layouts():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    state = nn.export_torch_state_dict(lstm)
    assert list(state)[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert state["weight_ih_l1_reverse"].shape == (20, 10)
    np.testing.assert_array_equal(state["weight_hh_l1"], lstm.W_h_l1.data.T)
    np.testing.assert_array_equal(state["bias_ih_l0_reverse"], lstm.b_x_l0_reverse.data)
    twin = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    nn.load_torch_state_dict(twin, state)
    np.testing.assert_array_equal(twin.W_x_l1_reverse.data, lstm.W_x_l1_reverse.data)
    assert list(nn.export_torch_state_dict(nn.GRUCell(2, 3, bias=False))) == [
        "weight_ih", "weight_hh"]


def test_a_safetensors_file_loads_by_path(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    source, target = Custom(), Custom()
    path = tmp_path / "weights.safetensors"
    safetensors_numpy.save_file(nn.export_torch_state_dict(source), str(path))
    nn.load_torch_state_dict(target, path)
    np.testing.assert_array_equal(target.embed.W.data, source.embed.W.data)
    path.write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="weights.safetensors is not a readable safetensors"):
        nn.load_torch_state_dict(target, path)
    with pytest.raises(TypeError, match="a dict of arrays or a .safetensors path"):
        nn.load_torch_state_dict(target, [1, 2])
    with pytest.raises(TypeError, match="'scale' holds dict, not an array"):
        nn.load_torch_state_dict(target, {"scale": {"nested": 1}})


# ---- the same architecture in both frameworks ------------------------------------------

def torch_cnn(torch):
    t = torch.nn
    return t.Sequential(
        t.Conv2d(1, 4, 3, padding=1), t.BatchNorm2d(4), t.ReLU(), t.MaxPool2d(2),
        t.Conv2d(4, 6, 3, bias=False), t.AdaptiveAvgPool2d(1), t.Flatten(),
        t.Linear(6, 8), t.BatchNorm1d(8), t.Tanh(), t.Linear(8, 3))


def outputs_agree(ours, theirs, x, torch):
    np.testing.assert_allclose(ours(cr.Variable(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-5, rtol=1e-5)


def test_cnn_with_batchnorm_moves_from_pytorch_and_back():
    torch = torch_or_skip()
    theirs = torch_cnn(torch)
    theirs(torch.randn(4, 1, 8, 8))  # move the running statistics off their defaults
    theirs.eval()
    ours = cnn().eval()
    nn.load_torch_state_dict(ours, theirs.state_dict())  # torch tensors, as they come
    x = random_input((3, 1, 8, 8))
    outputs_agree(ours, theirs, x, torch)
    back = torch_cnn(torch).eval()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in
                          nn.export_torch_state_dict(ours).items()})
    outputs_agree(ours, back, x, torch)
    assert int(back[1].num_batches_tracked) == 1


def test_mlp_trained_in_chainrule_runs_the_same_in_pytorch():
    torch = torch_or_skip()
    ours = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    x = random_input((8, 5))
    ours(x).sum().backward()
    for p in ours.parameters():
        p.data -= 0.1 * p.grad.data
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in
                            nn.export_torch_state_dict(ours).items()})
    outputs_agree(ours, theirs, x, torch)


def test_transformer_encoder_moves_from_pytorch_and_back():
    torch = torch_or_skip()

    def build(module):
        layer = module.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
        return layer, module.LayerNorm(8)

    t_layer, t_norm = build(torch.nn)
    theirs = torch.nn.TransformerEncoder(t_layer, 2, norm=t_norm,
                                         enable_nested_tensor=False).eval()
    ours = nn.TransformerEncoder(*build(nn)[:1], 2, norm=build(nn)[1]).eval()
    nn.load_torch_state_dict(ours, theirs.state_dict())
    x = random_input((2, 5, 8))
    outputs_agree(ours, theirs, x, torch)
    back = torch.nn.TransformerEncoder(build(torch.nn)[0], 2, norm=build(torch.nn)[1],
                                       enable_nested_tensor=False).eval()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in
                          nn.export_torch_state_dict(ours).items()})
    outputs_agree(ours, back, x, torch)


def tagger_parts(module, kind):
    """Embedding, a two-layer recurrent layer and a head, built by ``nn`` or ``torch.nn``."""
    rnn = getattr(module, kind)(6, 5, num_layers=2, batch_first=True,
                                bidirectional=kind == "GRU")
    return module.Embedding(10, 6), rnn, module.Linear(10 if kind == "GRU" else 5, 3)


class Tagger(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.embed, self.rnn, self.head = tagger_parts(nn, kind)

    def forward(self, ids):
        return self.head(self.rnn(self.embed(ids))[0])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_model_moves_from_pytorch_and_back(kind):
    torch = torch_or_skip()

    class TorchTagger(torch.nn.Module):
        forward = Tagger.forward

        def __init__(self):
            super().__init__()
            self.embed, self.rnn, self.head = tagger_parts(torch.nn, kind)

    theirs, ours = TorchTagger().eval(), Tagger(kind)
    nn.load_torch_state_dict(ours, theirs.state_dict())
    ids = np.random.default_rng(0).integers(0, 10, (2, 7))
    expected = theirs(torch.tensor(ids)).detach().numpy()
    np.testing.assert_allclose(ours(ids).data, expected, atol=1e-5, rtol=1e-5)
    back = TorchTagger().eval()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in
                          nn.export_torch_state_dict(ours).items()})
    np.testing.assert_allclose(back(torch.tensor(ids)).detach().numpy(), expected, atol=1e-6)
