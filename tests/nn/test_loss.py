"""Loss modules: options held, passed to their F function, compared with torch's modules."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn

from .twin import random_input, torch_or_skip


def logits_and_ids(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 4, 6)


def test_modules_pass_their_options_to_the_functions():
    x, t = logits_and_ids()
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 1.0], ignore_index=2, label_smoothing=0.1)
    want = F.cross_entropy(x, t, np.array([1, 2, 0.5, 1], np.float32), ignore_index=2,
                           label_smoothing=0.1)
    np.testing.assert_allclose(loss(x, t).data, want.data)
    assert loss.weight.dtype == np.float32 and "weight" in loss.state_dict()
    np.testing.assert_allclose(nn.NLLLoss(reduction="sum")(x, t).data,
                               F.nll_loss(x, t, reduction="sum").data)
    y = random_input((6, 4), seed=1)
    np.testing.assert_allclose(nn.SmoothL1Loss(beta=0.5)(x, y).data,
                               F.smooth_l1_loss(x, y, beta=0.5).data)
    np.testing.assert_allclose(nn.HuberLoss(delta=2.0)(x, y).data,
                               F.huber_loss(x, y, delta=2.0).data)
    assert nn.MSELoss(reduction="none")(x, y).shape == (6, 4)


def test_deprecated_size_average_and_reduce_read_as_in_pytorch():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.L1Loss(reduce=False).reduction == "none"
    assert nn.CrossEntropyLoss(None, True).reduction == "mean"


def test_bad_reduction_names_the_module():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of 'mean', 'sum', 'none'"):
        nn.MSELoss(reduction="avg")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"


def test_a_loss_module_trains_a_classifier():
    x, t = logits_and_ids()
    model, loss_fn = nn.Linear(4, 4), nn.CrossEntropyLoss()
    first = None
    for _ in range(30):
        model.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        first = loss.item() if first is None else first
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
    assert loss.item() < first / 2


CASES = [
    ("CrossEntropyLoss", {"label_smoothing": 0.2, "ignore_index": 1}, "ids"),
    ("CrossEntropyLoss", {"weight": [1.0, 2.0, 3.0, 0.5], "reduction": "sum"}, "ids"),
    ("NLLLoss", {"reduction": "none"}, "ids"),
    ("MSELoss", {}, "real"),
    ("L1Loss", {"reduction": "sum"}, "real"),
    ("SmoothL1Loss", {"beta": 0.3}, "real"),
    ("HuberLoss", {"delta": 0.4}, "real"),
    ("BCELoss", {"weight": [1.0, 2.0, 3.0, 0.5]}, "probabilities"),
    ("BCEWithLogitsLoss", {"pos_weight": [1.0, 2.0, 3.0, 0.5]}, "probabilities"),
    ("KLDivLoss", {"reduction": "batchmean"}, "probabilities"),
]


@pytest.mark.parametrize(("name", "options", "target_kind"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_modules_match_torch(name, options, target_kind):
    torch = torch_or_skip()
    x, ids = logits_and_ids()
    rng = np.random.default_rng(1)
    if name == "BCELoss":
        x = 1 / (1 + np.exp(-x))
    if name == "KLDivLoss":
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
    target = {"ids": ids, "real": rng.standard_normal((6, 4)).astype(np.float32),
              "probabilities": rng.dirichlet(np.ones(4), 6).astype(np.float32)}[target_kind]
    t_options = {k: torch.tensor(v) if isinstance(v, list) else v for k, v in options.items()}
    ours, theirs = getattr(nn, name)(**options), getattr(torch.nn, name)(**t_options)
    xv, t_x = cr.Variable(x), torch.tensor(x, requires_grad=True)
    y, t_y = ours(xv, target), theirs(t_x, torch.tensor(target))
    np.testing.assert_allclose(y.data, t_y.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    t_y.sum().backward()
    np.testing.assert_allclose(xv.grad.data, t_x.grad.numpy(), rtol=1e-5, atol=1e-6)
