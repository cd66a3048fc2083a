"""Every optimizer's update rule against torch.optim (float64), and convergence without torch."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from harness import torch

SHAPES = [(3, 4), (4,), ()]
STEPS = 5
NAMES = ["SGD", "AdaGrad", "RMSprop", "AdaDelta", "Adam", "AdamW"]
TORCH_NAMES = {"AdaGrad": "Adagrad", "AdaDelta": "Adadelta"}
CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("AdaGrad", {}),
    ("AdaGrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("RMSprop", {}),
    ("RMSprop", {"alpha": 0.9, "momentum": 0.5}),
    ("RMSprop", {"centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9, "centered": True, "eps": 1e-4}),
    ("AdaDelta", {}),
    ("AdaDelta", {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1, "eps": 1e-4}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.1, "amsgrad": True}),
]


def initial_arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient(p, step, index):
    """Depends on the parameter, so a wrong step carries into every later one."""
    noise = np.random.default_rng(100 * step + index).standard_normal(np.shape(p))
    return np.sin(3 * p) + noise


def has_grad(step, index):
    return not (index == 2 and step == 1)  # the last parameter sits out step 1


def grouped(params, group_options):
    if group_options is None:
        return params
    first, second = group_options
    return [{"params": params[:2], **first}, {"params": params[2:], **second}]


def train_chainrule(name, kwargs, group_options=None, dtype=np.float64):
    params = [cr.Variable(a.astype(dtype)) for a in initial_arrays()]
    opt = getattr(optim, name)(grouped(params, group_options), **kwargs)
    for step in range(STEPS):
        for i, p in enumerate(params):
            g = gradient(p.data, step, i).astype(dtype)
            p.grad = cr.Variable(g) if has_grad(step, i) else None
        opt.step()
    return params, opt


def train_torch(name, kwargs, group_options=None):
    params = [torch.tensor(a, requires_grad=True) for a in initial_arrays()]
    opt = getattr(torch.optim, TORCH_NAMES.get(name, name))(grouped(params, group_options),
                                                            **kwargs)
    for step in range(STEPS):
        for i, p in enumerate(params):
            g = torch.from_numpy(np.asarray(gradient(p.detach().numpy(), step, i)))
            p.grad = g if has_grad(step, i) else None
        opt.step()
    return [p.detach().numpy() for p in params]


def assert_same_as_torch(name, kwargs, group_options=None):
    if torch is None:
        pytest.skip("torch is not installed")
    params, _ = train_chainrule(name, kwargs, group_options)
    for ours, theirs in zip(params, train_torch(name, kwargs, group_options)):
        np.testing.assert_allclose(ours.data, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_optimizer_steps_match_torch(name, kwargs):
    assert_same_as_torch(name, kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_own_lr_and_weight_decay_match_torch(name):
    groups = ({"lr": 0.02}, {"weight_decay": 0.2})
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    assert_same_as_torch(name, {"lr": 0.1, **kwargs}, groups)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_without_grad_is_left_alone(name):
    _, opt = train_chainrule(name, {})
    frozen = cr.Variable(np.ones(3))
    opt.add_param_group({"params": [frozen]})
    opt.step()
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert frozen not in opt.state
    assert all(p in opt.state for p in opt.param_groups[0]["params"])


@pytest.mark.parametrize("name", NAMES)
def test_float32_parameters_and_state_stay_float32(name):
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    params, opt = train_chainrule(name, {"weight_decay": 0.1, **kwargs}, dtype=np.float32)
    assert all(p.data.dtype == np.float32 for p in params)
    arrays = [v for s in opt.state.values() for v in s.values() if hasattr(v, "dtype")]
    assert arrays and all(a.dtype == np.float32 for a in arrays)


def test_update_changes_the_array_in_place_and_records_no_graph():
    p = cr.Variable(np.array([1.0, 2.0]))
    data = p.data
    opt = optim.SGD([p], lr=0.5)
    p.grad = cr.Variable(np.array([1.0, -1.0]))
    opt.step()
    assert p.data is data and p.creator is None
    np.testing.assert_array_equal(p.data, [0.5, 2.5])


def test_gradient_array_is_not_modified_by_the_update():
    p = cr.Variable(np.array([1.0, 2.0]))
    g = np.array([0.5, -0.5])
    p.grad = cr.Variable(g)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(g, [0.5, -0.5])


def test_step_calls_the_closure_with_grad_recording_and_returns_its_loss():
    w = cr.Variable(np.array([3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert loss.data == 9.0
    np.testing.assert_array_equal(w.data, [1.5])  # 3 - 0.25 * 6


def rosenbrock(xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def quadratic(w):
    return (np.array([1.0, 4.0]) * (w - np.array([1.0, -2.0])) ** 2).sum()


def minimize(fn, opt, w, steps):
    for _ in range(steps):
        opt.zero_grad()
        fn(w).backward()
        opt.step()
    return w.data


@pytest.mark.parametrize("name, kwargs, steps", [
    ("SGD", {"lr": 0.1}, 100),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, 150),
    ("AdaGrad", {"lr": 0.5}, 300),
    ("RMSprop", {"lr": 0.02, "centered": True}, 400),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}, 400),
    ("AdaDelta", {"lr": 20.0}, 300),  # its unit steps start near sqrt(eps)
    ("Adam", {"lr": 0.05}, 400),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.0}, 400),
])
def test_optimizer_finds_the_minimum_of_a_quadratic(name, kwargs, steps):
    w = cr.Variable(np.array([-2.0, 2.0]))
    found = minimize(quadratic, getattr(optim, name)([w], **kwargs), w, steps)
    np.testing.assert_allclose(found, [1.0, -2.0], atol=1e-3)


@pytest.mark.parametrize("name, kwargs, steps", [
    ("SGD", {"lr": 2e-3, "momentum": 0.9}, 600),
    ("Adam", {"lr": 0.05}, 1500),
])
def test_optimizer_descends_rosenbrock_valley_to_its_minimum(name, kwargs, steps):
    xy = cr.Variable(np.array([-1.5, 2.0]))
    found = minimize(rosenbrock, getattr(optim, name)([xy], **kwargs), xy, steps)
    np.testing.assert_allclose(found, [1.0, 1.0], atol=5e-3)
