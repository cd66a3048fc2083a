"""Every optimizer's update rule against a NumPy reference, so the rules are checked without torch.

The references follow the algorithms in torch.optim's documentation line by line (weight
decay, dampening, nesterov, lr_decay, centered, momentum, amsgrad, decoupled decay), one
parameter at a time; test_optimizers.py checks the same cases against torch itself.
"""

import numpy as np
import pytest
from test_optimizers import CASES, STEPS, gradient, has_grad, initial_arrays, train_chainrule

DEFAULTS = {
    "SGD": {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "AdaGrad": {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0,
                "initial_accumulator_value": 0.0, "eps": 1e-10},
    "RMSprop": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                "centered": False},
    "AdaDelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
             "amsgrad": False},
    "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2,
              "amsgrad": False},
}


def sgd(p, g, s, t, lr, momentum, dampening, weight_decay, nesterov):
    g = g + weight_decay * p
    if momentum:
        s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return p - lr * g


def adagrad(p, g, s, t, lr, lr_decay, weight_decay, initial_accumulator_value, eps):
    g = g + weight_decay * p
    s["sum"] = s.get("sum", np.full_like(p, initial_accumulator_value)) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


def rmsprop(p, g, s, t, lr, alpha, eps, weight_decay, momentum, centered):
    g = g + weight_decay * p
    s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g * g
    v = s["v"]
    if centered:
        s["g"] = alpha * s.get("g", 0) + (1 - alpha) * g
        v = v - s["g"] ** 2
    step = g / (np.sqrt(v) + eps)
    if momentum:
        s["b"] = momentum * s.get("b", 0) + step
        step = s["b"]
    return p - lr * step


def adadelta(p, g, s, t, lr, rho, eps, weight_decay):
    g = g + weight_decay * p
    s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
    return p - lr * delta


def adam(p, g, s, t, lr, betas, eps, weight_decay, amsgrad, decoupled=False):
    (b1, b2) = betas
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    v = s["v"]
    if amsgrad:
        s["vmax"] = v = np.maximum(s.get("vmax", 0), v)
    denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
    return p - lr / (1 - b1**t) * s["m"] / denom


RULES = {"SGD": sgd, "AdaGrad": adagrad, "RMSprop": rmsprop, "AdaDelta": adadelta,
         "Adam": adam, "AdamW": lambda *args, **kw: adam(*args, **kw, decoupled=True)}


def train_reference(name, kwargs):
    """The parameters after STEPS steps of the reference rule, each with its own step count."""
    params = initial_arrays()
    states = [{} for _ in params]
    counts = [0] * len(params)
    options = {**DEFAULTS[name], **kwargs}
    for step in range(STEPS):
        for i, p in enumerate(params):
            if has_grad(step, i):  # a parameter without a gradient is skipped, step and all
                counts[i] += 1
                params[i] = RULES[name](p, gradient(p, step, i), states[i], counts[i], **options)
    return params


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_optimizer_steps_match_the_numpy_reference(name, kwargs):
    params, _ = train_chainrule(name, kwargs)
    for ours, expected in zip(params, train_reference(name, kwargs)):
        np.testing.assert_allclose(ours.data, expected, rtol=1e-10, atol=1e-12)


def test_the_reference_rules_differ_from_each_other():
    """Each option changes the numbers, so a reference that ignored one could not pass."""
    finals = {f"{n}-{i}": train_reference(n, k)[0] for i, (n, k) in enumerate(CASES)}
    values = [tuple(np.round(v.ravel(), 12)) for v in finals.values()]
    assert len(set(values)) == len(values)
