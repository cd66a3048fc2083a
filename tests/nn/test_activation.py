import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .twin import assert_close, backward_both, random_input, torch_or_skip

CASES = [
    (nn.ReLU(), "ReLU()", lambda t: t.nn.ReLU()),
    (nn.Sigmoid(), "Sigmoid()", lambda t: t.nn.Sigmoid()),
    (nn.Tanh(), "Tanh()", lambda t: t.nn.Tanh()),
    (nn.LeakyReLU(0.2), "LeakyReLU(slope=0.2)", lambda t: t.nn.LeakyReLU(0.2)),
    (nn.GELU(), "GELU()", lambda t: t.nn.GELU(approximate="tanh")),
    (nn.Softmax(axis=1), "Softmax(axis=1)", lambda t: t.nn.Softmax(dim=1)),
    (nn.SiLU(), "SiLU()", lambda t: t.nn.SiLU()),
    (nn.ELU(0.5), "ELU(alpha=0.5)", lambda t: t.nn.ELU(0.5)),
    (nn.Softplus(2.0, 1.0), "Softplus(beta=2.0, threshold=1.0)",
     lambda t: t.nn.Softplus(2.0, 1.0)),
    (nn.LogSoftmax(dim=1), "LogSoftmax(axis=1)", lambda t: t.nn.LogSoftmax(dim=1)),
    (nn.Hardtanh(-0.5, 0.7), "Hardtanh(min_val=-0.5, max_val=0.7)",
     lambda t: t.nn.Hardtanh(-0.5, 0.7)),
    (nn.ReLU6(), "ReLU6()", lambda t: t.nn.ReLU6()),
]


@pytest.mark.parametrize(("layer", "text", "twin"), CASES, ids=[c[1] for c in CASES])
def test_activation_matches_torch_forward_and_backward(layer, text, twin):
    torch = torch_or_skip()
    x = cr.Variable(random_input((3, 4, 5)))
    t_x = torch.tensor(x.data, requires_grad=True)
    y, t_y = layer(x), twin(torch)(t_x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert_close(y, t_y)
    backward_both(y, t_y)
    assert_close(x.grad, t_x.grad)


@pytest.mark.parametrize(("layer", "text", "twin"), CASES, ids=[c[1] for c in CASES])
def test_activation_repr_and_no_parameters(layer, text, twin):
    assert repr(layer) == text and list(layer.parameters()) == []


def test_leaky_relu_default_slope_is_torchs():
    assert nn.LeakyReLU().slope == 0.01
    np.testing.assert_allclose(nn.LeakyReLU()(np.array([-1.0, 2.0])).data, [-0.01, 2.0])


@pytest.mark.parametrize(
    ("layer", "reference"),
    [(nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
     (nn.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
     (nn.Softplus(), lambda x: np.log1p(np.exp(x)))],
)
def test_new_activations_match_numpy_and_differentiate_twice(layer, reference):
    x = np.random.default_rng(0).uniform(-3, 3, (4, 5))
    np.testing.assert_allclose(layer(x).data, reference(x), rtol=1e-12)
    cr.gradcheck(layer, [x], order=2)


def test_nn_functional_is_chainrule_functions_under_pytorchs_path():
    import chainrule.functions
    import chainrule.nn.functional as F

    assert F.relu is chainrule.functions.relu
    assert F.cross_entropy is chainrule.functions.cross_entropy
    assert "softmax" in dir(F) and nn.functional is F
    with pytest.raises(AttributeError):
        F.no_such_function  # noqa: B018
