"""Optimizer base: argument checks, parameter groups, state_dict and exact resumption."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

FULL_CONFIGS = {  # every optimizer with all of its state in use
    "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "AdaGrad": {"lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "RMSprop": {"momentum": 0.9, "centered": True},
    "AdaDelta": {"weight_decay": 0.01},
    "Adam": {"amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"amsgrad": True, "betas": (0.8, 0.99)},
}


def make_params(dtype=np.float32):
    rng = np.random.default_rng(1)
    return [cr.Variable(rng.standard_normal(shape).astype(dtype)) for shape in [(2, 3), (3,)]]


def train(opt, params, steps, start=0):
    for step in range(start, start + steps):
        for i, p in enumerate(params):
            noise = np.random.default_rng(10 * step + i).standard_normal(p.shape)
            p.grad = cr.Variable((p.data * p.data + noise).astype(p.dtype))
        opt.step()


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.SGD(p, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: optim.SGD(p, weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: optim.AdaGrad(p, lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
    (lambda p: optim.AdaGrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda p: optim.AdaGrad(p, eps=-1e-10), "Invalid epsilon value: -1e-10"),
    (lambda p: optim.RMSprop(p, alpha=-0.99), "Invalid alpha value: -0.99"),
    (lambda p: optim.RMSprop(p, momentum=-0.1), "Invalid momentum value: -0.1"),
    (lambda p: optim.RMSprop(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.AdaDelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.AdaDelta(p, lr=float("nan")), "Invalid learning rate: nan"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    (lambda p: optim.Adam([{"params": p, "lr": -2.0}]), "Invalid learning rate: -2.0"),
])
def test_bad_hyperparameter_fails_in_init_naming_the_value(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make(make_params())


@pytest.mark.parametrize("params, error, message", [
    ([], ValueError, "empty parameter list"),
    (cr.Variable(np.ones(2)), TypeError, "wrap it in a list"),
    ([np.ones(2)], TypeError, "can only optimize Variables, got ndarray"),
    ([{"params": [cr.Variable(np.ones(2))], "lrr": 0.1}], ValueError, "unknown hyperparameter"),
])
def test_bad_params_argument_is_refused(params, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(params, lr=0.1)


def test_parameter_listed_twice_is_refused():
    p = cr.Variable(np.ones(2))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}])


def test_groups_take_missing_hyperparameters_from_defaults():
    a, b = make_params()
    opt = optim.Adam([{"params": [a]}, {"params": b, "lr": 0.1}], lr=0.01, betas=[0.8, 0.9])
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert opt.param_groups[1]["betas"] == (0.8, 0.9)
    assert opt.param_groups[1]["params"] == [b]
    assert "lr=0.1" in repr(opt)


def test_zero_grad_forgets_every_gradient():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    train(opt, params, 1)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def leaves(tree):
    if isinstance(tree, dict):
        assert all(isinstance(k, str) for k in tree)
        return [leaf for v in tree.values() for leaf in leaves(v)]
    if isinstance(tree, list):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


@pytest.mark.parametrize("name", sorted(FULL_CONFIGS))
def test_state_dict_has_string_keys_and_plain_leaves(name):
    params = make_params()
    opt = getattr(optim, name)(params, **FULL_CONFIGS[name])
    train(opt, params, 2)
    state = opt.state_dict()
    assert sorted(state["state"]) == ["0", "1"]
    assert state["state"]["1"]["step" if name != "SGD" else "momentum_buffer"] is not None
    assert state["param_groups"][0]["params"] == [0, 1]
    for leaf in leaves(state):
        assert type(leaf) in (np.ndarray, int, float, bool, str), type(leaf)


def test_state_dict_is_a_snapshot_that_later_steps_do_not_change():
    params = make_params()
    opt = optim.Adam(params)
    train(opt, params, 2)
    saved = opt.state_dict()
    exp_avg = saved["state"]["0"]["exp_avg"].copy()
    train(opt, params, 2, start=2)
    np.testing.assert_array_equal(saved["state"]["0"]["exp_avg"], exp_avg)
    assert saved["state"]["0"]["step"] == 2


@pytest.mark.parametrize("name", sorted(FULL_CONFIGS))
def test_resumed_training_equals_uninterrupted_training_bit_for_bit(name):
    make = getattr(optim, name)
    params = make_params()
    opt = make(params, **FULL_CONFIGS[name])
    train(opt, params, 8)

    first = make_params()
    opt = make(first, **FULL_CONFIGS[name])
    train(opt, first, 5)
    checkpoint = opt.state_dict()
    resumed = [cr.Variable(p.data.copy()) for p in first]
    opt = make(resumed, lr=0.5)  # the checkpoint's hyperparameters replace these
    opt.load_state_dict(checkpoint)
    assert_same_tree(opt.state_dict(), checkpoint)
    train(opt, resumed, 3, start=5)
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.data, q.data)


def assert_same_tree(actual, expected):
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected)
        for key in expected:
            assert_same_tree(actual[key], expected[key])
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)
    else:
        assert actual == expected and type(actual) is type(expected)


def test_load_state_dict_restores_hyperparameters_and_tuples():
    params = make_params()
    opt = optim.AdamW(params, lr=0.02, betas=(0.5, 0.6))
    other = optim.AdamW(make_params(), lr=0.1)
    other.load_state_dict(opt.state_dict())
    assert other.param_groups[0]["lr"] == 0.02
    assert other.param_groups[0]["betas"] == (0.5, 0.6)


def test_load_state_dict_accepts_numbers_stored_as_zero_d_arrays():
    params = make_params()
    opt = optim.Adam(params, lr=0.01)
    train(opt, params, 2)
    state = opt.state_dict()
    state["state"]["0"]["step"] = np.array(2)
    state["param_groups"][0]["lr"] = np.array(0.01)
    state["param_groups"][0]["betas"] = np.array([0.9, 0.999])
    fresh = optim.Adam([cr.Variable(p.data.copy()) for p in params])
    fresh.load_state_dict(state)
    first = fresh.state[fresh.param_groups[0]["params"][0]]
    assert first["step"] == 2 and type(fresh.param_groups[0]["lr"]) is float
    assert fresh.param_groups[0]["betas"] == (0.9, 0.999)
    assert first["exp_avg"].dtype == np.float32


def test_loaded_state_follows_the_parameter_dtype():
    params = make_params(np.float64)
    opt = optim.RMSprop(params)
    train(opt, params, 1)
    fresh = optim.RMSprop(make_params(np.float32))
    fresh.load_state_dict(opt.state_dict())
    assert fresh.state[fresh.param_groups[0]["params"][1]]["square_avg"].dtype == np.float32


def test_load_state_dict_refuses_a_checkpoint_of_another_shape():
    params = make_params()
    opt = optim.Adam(params)
    train(opt, params, 1)
    state = opt.state_dict()
    with pytest.raises(ValueError, match=r"groups of sizes \[2\], this optimizer \[1\]"):
        optim.Adam(params[:1]).load_state_dict(state)
    swapped = [cr.Variable(np.zeros(3)), cr.Variable(np.zeros((2, 3)))]
    with pytest.raises(ValueError, match=r"state\['0'\]\['exp_avg'\] has shape \(2, 3\)"):
        optim.Adam(swapped).load_state_dict(state)


def test_load_state_dict_refuses_something_else():
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        optim.SGD(make_params()).load_state_dict({"0.weight": np.zeros(3)})
