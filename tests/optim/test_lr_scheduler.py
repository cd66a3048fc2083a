"""Learning-rate schedules: values against torch.optim.lr_scheduler, formulas, resumption."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from harness import torch

EPOCHS = 25
SCHEDULES = [  # (ours, kwargs, torch's name, torch's kwargs)
    (optim.StepLR, {"step_size": 3}, "StepLR", {"step_size": 3}),
    (optim.StepLR, {"step_size": 4, "gamma": 0.5}, "StepLR", {"step_size": 4, "gamma": 0.5}),
    (optim.CosineAnnealingLR, {"T_max": 10}, "CosineAnnealingLR", {"T_max": 10}),
    (optim.CosineAnnealingLR, {"T_max": 7, "eta_min": 0.01}, "CosineAnnealingLR",
     {"T_max": 7, "eta_min": 0.01}),
    (optim.LinearWarmup, {"warmup_steps": 5}, "LinearLR", {"total_iters": 5}),
    (optim.LinearWarmup, {"warmup_steps": 8, "start_factor": 0.01}, "LinearLR",
     {"total_iters": 8, "start_factor": 0.01}),
]
IDS = [f"{s[0].__name__}-{i}" for i, s in enumerate(SCHEDULES)]


def two_groups():
    a, b = cr.Variable(np.zeros(2)), cr.Variable(np.zeros(3))
    return optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)


def history(scheduler, optimizer, epochs=EPOCHS):
    lrs = [scheduler.get_last_lr()]
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in optimizer.param_groups]
    return np.array(lrs)


@pytest.mark.parametrize("ours, kwargs, torch_name, torch_kwargs", SCHEDULES, ids=IDS)
def test_schedule_matches_torch(ours, kwargs, torch_name, torch_kwargs):
    if torch is None:
        pytest.skip("torch is not installed")
    opt = two_groups()
    expected_lrs = history(ours(opt, **kwargs), opt)
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    torch_opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1,
                                momentum=0.9)
    schedule = getattr(torch.optim.lr_scheduler, torch_name)(torch_opt, **torch_kwargs)
    np.testing.assert_allclose(expected_lrs, history(schedule, torch_opt), rtol=1e-10,
                               atol=1e-14)


def test_step_lr_multiplies_by_gamma_every_step_size_epochs():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    lrs = history(optim.StepLR(opt, step_size=2, gamma=0.5), opt, epochs=5)
    np.testing.assert_array_equal(lrs[:, 0], [1.0, 1.0, 0.5, 0.5, 0.25, 0.25])


def test_cosine_reaches_eta_min_at_t_max_and_climbs_back():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    lrs = history(optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.2), opt, epochs=8)[:, 0]
    np.testing.assert_allclose(lrs[[0, 2, 4, 6, 8]], [1.0, 0.6, 0.2, 0.6, 1.0])
    assert lrs[3] == pytest.approx(0.2 + 0.8 * (1 + math.cos(3 * math.pi / 4)) / 2)


def test_linear_warmup_ramps_to_the_initial_lr_and_stays():
    opt = optim.Adam([cr.Variable(np.zeros(1))], lr=0.4)
    lrs = history(optim.LinearWarmup(opt, warmup_steps=4, start_factor=0.25), opt, epochs=6)
    np.testing.assert_allclose(lrs[:, 0], [0.1, 0.175, 0.25, 0.325, 0.4, 0.4, 0.4])


def test_optimizer_uses_the_scheduled_lr():
    p = cr.Variable(np.array([0.0]))
    opt = optim.SGD([p], lr=1.0)
    scheduler = optim.StepLR(opt, step_size=1, gamma=0.1)
    for _ in range(3):
        p.grad = cr.Variable(np.array([1.0]))
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(p.data, [-1.11])  # 1 + 0.1 + 0.01


@pytest.mark.parametrize("ours, kwargs", [(s[0], s[1]) for s in SCHEDULES], ids=IDS)
def test_scheduler_resumes_from_state_dict(ours, kwargs):
    opt = two_groups()
    uninterrupted = history(ours(opt, **kwargs), opt, epochs=12)[7:]

    opt = two_groups()
    scheduler = ours(opt, **kwargs)
    history(scheduler, opt, epochs=7)
    checkpoint, opt_checkpoint = scheduler.state_dict(), opt.state_dict()
    assert checkpoint["last_epoch"] == 7
    fresh_opt = two_groups()
    fresh = ours(fresh_opt, **kwargs)
    fresh_opt.load_state_dict(opt_checkpoint)
    fresh.load_state_dict(checkpoint)
    np.testing.assert_array_equal(history(fresh, fresh_opt, epochs=5), uninterrupted)


def test_second_scheduler_keeps_the_first_initial_lr():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    optim.StepLR(opt, step_size=1, gamma=0.5).step()
    assert optim.CosineAnnealingLR(opt, T_max=10).base_lrs == [1.0]


@pytest.mark.parametrize("make, message", [
    (lambda opt: optim.StepLR(opt, step_size=0), "StepLR: step_size must be a positive integer"),
    (lambda opt: optim.StepLR(opt, step_size=2.5), "got 2.5"),
    (lambda opt: optim.CosineAnnealingLR(opt, T_max=-1), "T_max must be a positive integer"),
    (lambda opt: optim.LinearWarmup(opt, warmup_steps=0), "warmup_steps must be a positive"),
    (lambda opt: optim.LinearWarmup(opt, 5, start_factor=0), r"start_factor must be in \(0, 1\]"),
])
def test_bad_schedule_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make(optim.SGD([cr.Variable(np.zeros(1))], lr=1.0))


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        optim.StepLR([cr.Variable(np.zeros(1))], step_size=1)
