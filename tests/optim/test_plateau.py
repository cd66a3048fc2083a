"""ReduceLROnPlateau: against torch's over metric sequences, by hand, and resumed from a file."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from harness import torch

LOSSES = [1.0, 0.9, 0.95, 0.91, 0.899, 0.9, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.8, 0.49,
          float("nan"), 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
CASES = [
    {"patience": 1},
    {"mode": "max", "factor": 0.5, "patience": 0},
    {"threshold": 0.05, "threshold_mode": "abs", "patience": 1, "cooldown": 2},
    {"mode": "max", "threshold": 0.1, "threshold_mode": "abs", "patience": 2, "factor": 0.3},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.1], "cooldown": 1},
    {"patience": 0, "factor": 0.999999999, "eps": 1e-3},  # changes within eps are skipped
]


def two_groups(lib):
    a, b = lib.zeros(2), lib.zeros(3)
    if lib is np:
        a, b = cr.Variable(a), cr.Variable(b)
        return optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.4}], lr=0.1)
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.4}], lr=0.1)


def lr_history(scheduler, opt, metrics):
    out = []
    for value in metrics:
        scheduler.step(value)
        out.append([g["lr"] for g in opt.param_groups])
        assert scheduler.get_last_lr() == out[-1]
    return out


@pytest.mark.parametrize("kwargs", CASES, ids=range(len(CASES)))
def test_lr_sequence_matches_torch(kwargs):
    if torch is None:
        pytest.skip("torch is not installed")
    opt, torch_opt = two_groups(np), two_groups(torch)
    ours = optim.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    np.testing.assert_allclose(lr_history(ours, opt, LOSSES),
                               lr_history(theirs, torch_opt, LOSSES), rtol=1e-12)
    assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch) == (
        theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter, theirs.last_epoch)


def test_patience_cooldown_and_min_lr_by_hand():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    scheduler = optim.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    # best 1.0; three epochs without a relative improvement of 1e-4 (0.99995 is none) cut
    # the lr; the cooldown epoch after a cut counts nothing, so three more bad ones cut
    # again; 0.5 improves and restarts the count; the third cut stops at min_lr
    metrics = [1.0, 1.0, 0.99995, 1.2, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    lrs = [row[0] for row in lr_history(scheduler, opt, metrics)]
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2]


def test_metric_may_be_a_variable_or_a_zero_d_array():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    scheduler = optim.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(cr.Variable(np.array(2.0)))
    scheduler.step(np.float32(3.0))
    assert scheduler.best == 2.0 and scheduler.get_last_lr() == [pytest.approx(0.1)]


def test_resumes_through_a_file_with_an_infinite_best(tmp_path):
    pytest.importorskip("safetensors")
    opt = two_groups(np)
    scheduler = optim.ReduceLROnPlateau(opt, mode="max", patience=1, min_lr=[0.0, 0.3])
    cr.save({"s": scheduler.state_dict()}, tmp_path / "fresh.st")
    assert cr.load(tmp_path / "fresh.st")["s"]["best"] == -float("inf")
    straight = lr_history(scheduler, opt, LOSSES)
    opt = two_groups(np)
    scheduler = optim.ReduceLROnPlateau(opt, mode="max", patience=1, min_lr=[0.0, 0.3])
    lr_history(scheduler, opt, LOSSES[:9])
    cr.save({"o": opt.state_dict(), "s": scheduler.state_dict()}, tmp_path / "c.st")
    saved = cr.load(tmp_path / "c.st")
    opt = two_groups(np)
    scheduler = optim.ReduceLROnPlateau(opt, factor=0.9)  # the file's settings replace these
    opt.load_state_dict(saved["o"])
    scheduler.load_state_dict(saved["s"])
    assert scheduler.factor == 0.1 and scheduler.min_lrs == [0.0, 0.3]
    assert lr_history(scheduler, opt, LOSSES[9:]) == straight[9:]


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "minimum"}, "mode must be 'min' or 'max'"),
    ({"threshold_mode": "relative"}, "threshold_mode must be 'rel' or 'abs'"),
    ({"factor": 1.0}, r"factor must be in \[0, 1\), got 1.0"),
    ({"patience": -1}, "patience must be a non-negative integer"),
    ({"cooldown": 1.5}, "cooldown must be a non-negative integer"),
    ({"min_lr": [0.1, 0.2]}, "expected 1 values of min_lr"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.ReduceLROnPlateau(optim.SGD([cr.Variable(np.zeros(1))], lr=1.0), **kwargs)


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        optim.ReduceLROnPlateau([cr.Variable(np.zeros(1))])
