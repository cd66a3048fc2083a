"""Learning-rate schedules: values against torch.optim.lr_scheduler, formulas, resumption."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from harness import torch

EPOCHS = 25


def HALVING(epoch):
    return 0.5 ** (epoch // 4)


def WARMUP(epoch):
    return min(1.0, (epoch + 1) / 6)

SCHEDULES = [  # (ours, kwargs, torch's name, torch's kwargs)
    (optim.StepLR, {"step_size": 3}, "StepLR", {"step_size": 3}),
    (optim.StepLR, {"step_size": 4, "gamma": 0.5}, "StepLR", {"step_size": 4, "gamma": 0.5}),
    (optim.CosineAnnealingLR, {"T_max": 10}, "CosineAnnealingLR", {"T_max": 10}),
    (optim.CosineAnnealingLR, {"T_max": 7, "eta_min": 0.01}, "CosineAnnealingLR",
     {"T_max": 7, "eta_min": 0.01}),
    (optim.LinearWarmup, {"warmup_steps": 5}, "LinearLR", {"total_iters": 5}),
    (optim.LinearWarmup, {"warmup_steps": 8, "start_factor": 0.01}, "LinearLR",
     {"total_iters": 8, "start_factor": 0.01}),
    (optim.LinearLR, {"start_factor": 0.5, "end_factor": 0.1, "total_iters": 9}, "LinearLR",
     {"start_factor": 0.5, "end_factor": 0.1, "total_iters": 9}),
    (optim.LinearLR, {}, "LinearLR", {}),
    (optim.ConstantLR, {}, "ConstantLR", {}),
    (optim.ConstantLR, {"factor": 0.1, "total_iters": 8}, "ConstantLR",
     {"factor": 0.1, "total_iters": 8}),
    (optim.PolynomialLR, {}, "PolynomialLR", {}),
    (optim.PolynomialLR, {"total_iters": 12, "power": 2.5}, "PolynomialLR",
     {"total_iters": 12, "power": 2.5}),
    (optim.CosineAnnealingWarmRestarts, {"T_0": 3}, "CosineAnnealingWarmRestarts", {"T_0": 3}),
    (optim.CosineAnnealingWarmRestarts, {"T_0": 2, "T_mult": 2, "eta_min": 0.01},
     "CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 2, "eta_min": 0.01}),
    (optim.MultiStepLR, {"milestones": [7, 3, 12, 12]}, "MultiStepLR",
     {"milestones": [7, 3, 12, 12]}),
    (optim.MultiStepLR, {"milestones": [5], "gamma": 0.5}, "MultiStepLR",
     {"milestones": [5], "gamma": 0.5}),
    (optim.ExponentialLR, {"gamma": 0.9}, "ExponentialLR", {"gamma": 0.9}),
    (optim.LambdaLR, {"lr_lambda": HALVING}, "LambdaLR", {"lr_lambda": HALVING}),
    (optim.LambdaLR, {"lr_lambda": [HALVING, WARMUP]}, "LambdaLR",
     {"lr_lambda": [HALVING, WARMUP]}),
    (optim.OneCycleLR, {"max_lr": 1.0, "total_steps": EPOCHS}, "OneCycleLR",
     {"max_lr": 1.0, "total_steps": EPOCHS}),
    (optim.OneCycleLR, {"max_lr": [0.5, 2.0], "epochs": 5, "steps_per_epoch": 6,
                        "pct_start": 0.25, "anneal_strategy": "linear", "three_phase": True,
                        "div_factor": 10.0, "final_div_factor": 100.0},
     "OneCycleLR", {"max_lr": [0.5, 2.0], "epochs": 5, "steps_per_epoch": 6, "pct_start": 0.25,
                    "anneal_strategy": "linear", "three_phase": True, "div_factor": 10.0,
                    "final_div_factor": 100.0}),
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


def momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in optimizer.param_groups]


@pytest.mark.parametrize("name, three_phase", [("SGD", False), ("Adam", False), ("Adam", True)])
def test_one_cycle_cycles_momentum_and_beta1_as_torch(name, three_phase):
    if torch is None:
        pytest.skip("torch is not installed")
    kwargs = {"max_lr": [0.1, 0.3], "total_steps": 20, "three_phase": three_phase,
              "base_momentum": [0.8, 0.85], "max_momentum": 0.9}
    a, b = cr.Variable(np.zeros(2)), cr.Variable(np.zeros(3))
    opt = getattr(optim, name)([{"params": [a]}, {"params": [b]}])
    ta, tb = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    torch_opt = getattr(torch.optim, name)([{"params": [ta]}, {"params": [tb]}])
    ours = optim.OneCycleLR(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.OneCycleLR(torch_opt, **kwargs)
    for _ in range(20):
        np.testing.assert_allclose(momenta(opt), momenta(torch_opt), rtol=1e-12)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()
    for key in ("initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum"):
        assert [g[key] for g in opt.param_groups] == [g[key] for g in torch_opt.param_groups]


def test_one_cycle_follows_the_hand_computed_cosine_and_linear_phases():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=5.0, momentum=0.5)
    scheduler = optim.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.2,
                                 anneal_strategy="linear", div_factor=4.0, final_div_factor=5.0)
    lrs, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    for _ in range(10):
        scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
    # up from 1/4 to 1 over steps 0..1.2, then down to 1/20 over steps 1.2..10
    up = [0.25 + 0.75 * s / 1.2 for s in (0, 1)]
    down = [1.0 + (0.05 - 1.0) * (s - 1.2) / 8.8 for s in range(2, 11)]
    np.testing.assert_allclose(lrs, up + down, rtol=1e-12)
    np.testing.assert_allclose(moms[:2], [0.95 - 0.1 * s / 1.2 for s in (0, 1)], rtol=1e-12)
    assert moms[-1] == pytest.approx(0.95)
    cosine = optim.OneCycleLR(optim.SGD([cr.Variable(np.zeros(1))]), max_lr=1.0, total_steps=11)
    for _ in range(10):
        cosine.step()
    assert cosine.get_last_lr() == [pytest.approx(1.0 / 25 / 1e4)]  # torch's default divisors
    with pytest.raises(ValueError, match="stepped 12 times, but total_steps is 11"):
        cosine.step(), cosine.step()


@pytest.mark.parametrize("make, error, message", [
    (lambda o: optim.OneCycleLR(o, 1.0), ValueError, "give total_steps, or epochs and"),
    (lambda o: optim.OneCycleLR(o, 1.0, total_steps=0), ValueError, "total_steps must be a"),
    (lambda o: optim.OneCycleLR(o, 1.0, 10, pct_start=1.5), ValueError, r"pct_start must be in"),
    (lambda o: optim.OneCycleLR(o, 1.0, 10, anneal_strategy="cosine"), ValueError,
     "'cos' or 'linear'"),
    (lambda o: optim.OneCycleLR(o, [1.0, 2.0], 10), ValueError,
     "expected 1 values of max_lr"),
    (lambda o: optim.OneCycleLR(optim.AdaGrad(o.param_groups[0]["params"]), 1.0, 10),
     ValueError, "AdaGrad has neither"),
    (lambda o: optim.MultiStepLR(o, milestones=[2, 0]), ValueError, "each milestone must be"),
    (lambda o: optim.ExponentialLR(o, gamma=0), ValueError, "gamma must be positive"),
    (lambda o: optim.LinearLR(o, end_factor=1.5), ValueError, r"end_factor must be in \[0, 1\]"),
    (lambda o: optim.LinearLR(o, start_factor=0), ValueError, r"LinearLR: start_factor must"),
    (lambda o: optim.ConstantLR(o, factor=2), ValueError, r"factor must be in \[0, 1\]"),
    (lambda o: optim.ConstantLR(o, total_iters=0), ValueError, "total_iters must be a"),
    (lambda o: optim.LambdaLR(o, [HALVING, HALVING]), ValueError, "expected 1 values of lr_"),
    (lambda o: optim.LambdaLR(o, 0.5), TypeError, "lr_lambda must be callable"),
])
def test_bad_arguments_of_the_new_schedules_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make(optim.SGD([cr.Variable(np.zeros(1))], lr=1.0))


def test_one_cycle_resumes_through_a_file(tmp_path):
    pytest.importorskip("safetensors")

    def build():
        opt = optim.Adam([cr.Variable(np.zeros(2))])
        return opt, optim.OneCycleLR(opt, max_lr=0.1, total_steps=20, three_phase=True)

    opt, scheduler = build()
    straight = history(scheduler, opt, epochs=15)[9:]
    opt, scheduler = build()
    history(scheduler, opt, epochs=9)
    cr.save({"opt": opt.state_dict(), "sched": scheduler.state_dict()}, tmp_path / "c.st")
    opt, scheduler = build()
    saved = cr.load(tmp_path / "c.st")
    opt.load_state_dict(saved["opt"])
    scheduler.load_state_dict(saved["sched"])
    assert scheduler.three_phase is True and scheduler.anneal_strategy == "cos"
    np.testing.assert_array_equal(history(scheduler, opt, epochs=6), straight)


def test_exponential_multistep_and_lambda_by_hand_per_group():
    opt = two_groups()  # initial lrs 0.1 and 0.3
    lrs = history(optim.ExponentialLR(opt, gamma=0.5), opt, epochs=3)
    np.testing.assert_allclose(lrs, [[0.1, 0.3], [0.05, 0.15], [0.025, 0.075],
                                     [0.0125, 0.0375]], rtol=1e-15)
    opt = two_groups()
    lrs = history(optim.MultiStepLR(opt, milestones=[3, 1, 3], gamma=0.1), opt, epochs=4)
    np.testing.assert_allclose(lrs[:, 0], [0.1, 0.01, 0.01, 1e-4, 1e-4], rtol=1e-12)
    opt = two_groups()
    lrs = history(optim.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: e]), opt, epochs=2)
    np.testing.assert_allclose(lrs, [[0.1, 0.0], [0.05, 0.3], [0.1 / 3, 0.6]], rtol=1e-15)


def test_linear_and_constant_by_hand():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    lrs = history(optim.LinearLR(opt, start_factor=0.5, end_factor=0.25, total_iters=2), opt, 3)
    np.testing.assert_allclose(lrs[:, 0], [0.5, 0.375, 0.25, 0.25])
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    lrs = history(optim.ConstantLR(opt, factor=0.5, total_iters=2), opt, 3)
    np.testing.assert_allclose(lrs[:, 0], [0.5, 0.5, 1.0, 1.0])
    assert optim.LinearWarmup(opt, warmup_steps=7).warmup_steps == 7


def warmup_then_decay(lib_optim, opt, lr_scheduler):
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
    middle = lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=3)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.8)
    return lr_scheduler.SequentialLR(opt, [warmup, middle, decay], milestones=[4, 10])


def test_sequential_lr_matches_torch():
    if torch is None:
        pytest.skip("torch is not installed")
    opt = two_groups()
    ours = history(warmup_then_decay(optim, opt, optim.lr_scheduler), opt, epochs=16)
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    torch_opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    theirs = history(warmup_then_decay(torch.optim, torch_opt, torch.optim.lr_scheduler),
                     torch_opt, epochs=16)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_sequential_lr_by_hand_and_resumed():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    scheduler = warmup_then_decay(optim, opt, optim.lr_scheduler)
    lrs = history(scheduler, opt, epochs=12)[:, 0]
    np.testing.assert_allclose(lrs, [0.1, 0.325, 0.55, 0.775,        # warmup
                                     0.5, 0.5, 0.5, 1.0, 1.0, 1.0,    # ConstantLR from 4
                                     1.0, 0.8, 0.64])                 # decay from 10
    saved = scheduler.state_dict()
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    fresh = warmup_then_decay(optim, opt, optim.lr_scheduler)
    fresh.load_state_dict(saved)
    assert fresh.get_last_lr() == [pytest.approx(0.64)]
    fresh.step()
    assert fresh.get_last_lr() == [pytest.approx(0.512)]


def test_warm_restarts_restart_at_each_cycle_end():
    opt = optim.SGD([cr.Variable(np.zeros(1))], lr=1.0)
    lrs = history(optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2), opt, epochs=7)[:, 0]
    # cycles of 2, 4 and 8 epochs: restarts at epochs 0, 2 and 6
    np.testing.assert_allclose(lrs, [1.0, 0.5, 1.0, 0.5 + 0.5 * math.cos(math.pi / 4), 0.5,
                                     0.5 + 0.5 * math.cos(3 * math.pi / 4), 1.0,
                                     0.5 + 0.5 * math.cos(math.pi / 8)], atol=1e-15)


@pytest.mark.parametrize("make, error, message", [
    (lambda o: optim.SequentialLR(o, [optim.StepLR(o, 2)], milestones=[3]), ValueError,
     "one milestone fewer than schedules, got 1 schedules and 1 milestones"),
    (lambda o: optim.SequentialLR(o, [optim.ReduceLROnPlateau(o)], []), TypeError,
     "schedulers\\[0\\] is a ReduceLROnPlateau"),
    (lambda o: optim.SequentialLR(
        o, [optim.StepLR(optim.SGD([cr.Variable(np.zeros(1))]), 2)], []), ValueError,
     "belongs to another optimizer"),
    (lambda o: optim.PolynomialLR(o, total_iters=0), ValueError, "total_iters must be a"),
    (lambda o: optim.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError,
     "T_mult must be a positive integer"),
])
def test_bad_arguments_of_composed_schedules_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make(optim.SGD([cr.Variable(np.zeros(1))], lr=1.0))
