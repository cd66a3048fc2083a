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
