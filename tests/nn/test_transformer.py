import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import assert_close, random_input, torch_or_skip


def test_encoder_layer_parts_are_named_as_in_pytorch():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"]
    assert layer(random_input((5, 3, 8))).shape == (5, 3, 8)


def test_norm_first_blocks_are_residual():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=True).eval()
    for W in (layer.self_attn.out_proj.W, layer.self_attn.out_proj.b, layer.linear2.W,
              layer.linear2.b):
        W.data[...] = 0  # both blocks now add zero to the residual stream
    x = random_input((4, 2, 8))
    np.testing.assert_allclose(layer(x).data, x, rtol=1e-6)


def test_post_norm_output_is_normalised_per_position():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    y = layer(random_input((2, 5, 8)) * 10).data
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-3)


def test_encoder_stacks_independent_copies_and_applies_the_final_norm():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(encoder.layers) == 3 and encoder.layers[0] is not layer
    assert encoder.layers[0].linear1.W is not encoder.layers[1].linear1.W
    np.testing.assert_array_equal(encoder.layers[2].linear1.W.data, layer.linear1.W.data)
    names = [n for n, _ in encoder.named_parameters()]
    assert names[0] == "layers.0.self_attn.W_in" and names[-1] == "norm.beta"
    x = cr.Variable(random_input((5, 2, 8)))
    encoder(x, mask=np.triu(np.ones((5, 5), bool), k=1)).sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


def test_encoder_layer_gradients_pass_gradcheck():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0).double()
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    cr.gradcheck(layer, [x], atol=1e-4)


def test_encoder_layer_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")


@pytest.mark.parametrize(
    ("norm_first", "batch_first", "masked"), [(False, False, False), (True, True, True),
                                              (False, True, True)])
def test_encoder_matches_torch_forward_and_backward(norm_first, batch_first, masked):
    torch = torch_or_skip()
    options = {"dim_feedforward": 16, "norm_first": norm_first, "batch_first": batch_first}
    twin = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, **options), 2, norm=torch.nn.LayerNorm(8),
        enable_nested_tensor=False).eval()
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **options), 2,
                                    norm=nn.LayerNorm(8)).eval()
    nn.load_torch_state_dict(encoder, twin.state_dict())
    x = random_input((3, 5, 8) if batch_first else (5, 3, 8))
    kwargs = {}
    if masked:
        padding = np.zeros((3, 5), bool)
        padding[1, 3:] = True
        kwargs = {"mask": np.triu(np.ones((5, 5), bool), k=1), "src_key_padding_mask": padding}
    t_kwargs = {n: torch.tensor(a) for n, a in kwargs.items()}
    xv, t_x = cr.Variable(x), torch.tensor(x, requires_grad=True)
    y, t_y = encoder(xv, **kwargs), twin(t_x, **t_kwargs)
    assert_close(y, t_y)
    gy = random_input(y.shape, seed=1)
    (y * gy).sum().backward()
    (t_y * torch.tensor(gy)).sum().backward()
    assert_close(xv.grad, t_x.grad, atol=1e-4)
    assert_close(encoder.layers[0].linear1.W.grad.T, twin.layers[0].linear1.weight.grad,
                 atol=1e-4)


def test_decoder_layer_parts_are_named_as_in_pytorch_and_attend_to_memory():
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0).eval()
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
        "norm3", "dropout1", "dropout2", "dropout3"]
    tgt, memory = random_input((4, 2, 8)), random_input((6, 2, 8), seed=1)
    y = layer(tgt, memory)
    assert y.shape == (4, 2, 8)
    assert not np.allclose(y.data, layer(tgt, memory * 2).data)  # the memory matters


@pytest.mark.parametrize(("norm_first", "batch_first"), [(False, False), (True, True)])
def test_decoder_matches_torch_forward_and_backward(norm_first, batch_first):
    torch = torch_or_skip()
    options = {"dim_feedforward": 16, "norm_first": norm_first, "batch_first": batch_first}
    twin = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **options), 2,
                                       norm=torch.nn.LayerNorm(8)).eval()
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **options), 2,
                                    norm=nn.LayerNorm(8)).eval()
    nn.load_torch_state_dict(decoder, twin.state_dict())
    tgt = random_input((3, 5, 8) if batch_first else (5, 3, 8))
    memory = random_input((3, 4, 8) if batch_first else (4, 3, 8), seed=1)
    padding = np.zeros((3, 4), bool)
    padding[2, 2:] = True
    kwargs = {"tgt_mask": np.triu(np.ones((5, 5), bool), k=1),
              "memory_key_padding_mask": padding}
    x, t_x = cr.Variable(tgt), torch.tensor(tgt, requires_grad=True)
    y = decoder(x, memory, **kwargs)
    t_y = twin(t_x, torch.tensor(memory), **{k: torch.tensor(v) for k, v in kwargs.items()})
    assert_close(y, t_y)
    gy = random_input(y.shape, seed=2)
    (y * gy).sum().backward()
    (t_y * torch.tensor(gy)).sum().backward()
    assert_close(x.grad, t_x.grad, atol=1e-4)
    assert_close(decoder.layers[1].multihead_attn.W_in.grad.T,
                 twin.layers[1].multihead_attn.in_proj_weight.grad, atol=1e-4)


def test_full_transformer_matches_torch_and_its_causal_mask():
    torch = torch_or_skip()
    options = {"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1,
               "dim_feedforward": 16, "batch_first": True}
    twin, model = torch.nn.Transformer(**options).eval(), nn.Transformer(**options).eval()
    assert [n for n, _ in model.named_parameters()][:1] == ["encoder.layers.0.self_attn.W_in"]
    assert np.abs(model.encoder.layers[0].linear1.W.data).max() <= np.sqrt(6 / 24)  # Xavier
    nn.load_torch_state_dict(model, twin.state_dict())
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(4))
    src, tgt = random_input((2, 5, 8)), random_input((2, 4, 8), seed=1)
    y = model(src, tgt, tgt_mask=mask)
    t_y = twin(torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(mask))
    assert_close(y, t_y)
