"""Every transform against torch.func on the same functions, float64.

The functions: an MLP loss over a dict of parameters, sin(x)·exp(y) broadcasting, a
softmax cross entropy, an LSTM step with two outputs, and a function of several inputs
with an auxiliary output. Each is written twice, once per framework, line for line.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import func

torch = pytest.importorskip("torch")
tf = torch.func

def rng(seed=0):
    return np.random.default_rng(seed)


def ours(tree):
    if isinstance(tree, dict):
        return {k: ours(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(ours(v) for v in tree)
    return cr.Variable(np.array(tree), requires_grad=False)


def theirs(tree):
    if isinstance(tree, dict):
        return {k: theirs(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(theirs(v) for v in tree)
    return torch.tensor(np.array(tree))


def same(a, b, atol=1e-10):
    """Our nest of Variables equals torch's nest of tensors (None from torch means zeros)."""
    if isinstance(b, dict):
        assert list(a) == list(b)
        for k in b:
            same(a[k], b[k], atol)
    elif isinstance(b, (tuple, list)):
        assert len(a) == len(b), (len(a), len(b))
        for u, v in zip(a, b):
            same(u, v, atol)
    else:
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-8, atol=atol)


# ---- the functions, once per framework ------------------------------------------------
def mlp_params(seed=0):
    r = rng(seed)
    return {"w1": r.normal(size=(4, 5)), "b1": r.normal(size=5),
            "w2": r.normal(size=(5, 3)), "b2": r.normal(size=3)}


def mlp_loss(p, x, t):
    h = F.tanh(x @ p["w1"] + p["b1"])
    return ((h @ p["w2"] + p["b2"] - t) ** 2).mean()


def mlp_loss_torch(p, x, t):
    h = torch.tanh(x @ p["w1"] + p["b1"])
    return ((h @ p["w2"] + p["b2"] - t) ** 2).mean()


def sin_exp(x, y):
    return F.sin(x) * F.exp(y)


def sin_exp_torch(x, y):
    return torch.sin(x) * torch.exp(y)


LABELS = np.array([2, 0, 1, 2, 1])


def softmax_ce(logits):
    return F.softmax_cross_entropy(logits, LABELS)


def softmax_ce_torch(logits):
    return torch.nn.functional.cross_entropy(logits, torch.tensor(LABELS))


def lstm_step(x, h, c, w_ih, w_hh, b):
    gates = x @ w_ih + h @ w_hh + b
    n = h.shape[-1]
    i, f = F.sigmoid(gates[:, :n]), F.sigmoid(gates[:, n:2 * n])
    g, o = F.tanh(gates[:, 2 * n:3 * n]), F.sigmoid(gates[:, 3 * n:])
    c = f * c + i * g
    return o * F.tanh(c), c


def lstm_step_torch(x, h, c, w_ih, w_hh, b):
    gates = x @ w_ih + h @ w_hh + b
    n = h.shape[-1]
    i, f = torch.sigmoid(gates[:, :n]), torch.sigmoid(gates[:, n:2 * n])
    g, o = torch.tanh(gates[:, 2 * n:3 * n]), torch.sigmoid(gates[:, 3 * n:])
    c = f * c + i * g
    return o * torch.tanh(c), c


def lstm_args(seed=0):
    r = rng(seed)
    return (r.normal(size=(2, 3)), r.normal(size=(2, 4)), r.normal(size=(2, 4)),
            r.normal(size=(3, 16)) * 0.5, r.normal(size=(4, 16)) * 0.5, r.normal(size=16))


def several(x, y, z):
    loss = (x * y).sum() + (F.exp(z) * x[0]).sum()
    return loss, {"mean_y": y.mean()}


def several_torch(x, y, z):
    loss = (x * y).sum() + (torch.exp(z) * x[0]).sum()
    return loss, {"mean_y": y.mean()}


def several_args(seed=0):
    r = rng(seed)
    return r.normal(size=(3, 2)), r.normal(size=(3, 2)), r.normal(size=2)


# ---- the comparisons ---------------------------------------------------------------
def test_mlp_loss_grad_hessian_and_hvp_over_a_dict_of_parameters():
    p, r = mlp_params(), rng(1)
    x, t = r.normal(size=(6, 4)), r.normal(size=(6, 3))
    args, targs = ours((p, x, t)), theirs((p, x, t))
    same(func.grad(mlp_loss)(*args), tf.grad(mlp_loss_torch)(*targs))
    g, v = func.grad_and_value(mlp_loss)(*args)
    tg, tv = tf.grad_and_value(mlp_loss_torch)(*targs)
    same(g, tg)
    same(v, tv)
    w1 = lambda w, rest: mlp_loss({**rest, "w1": w}, x, t)  # noqa: E731
    w1_torch = lambda w, rest: mlp_loss_torch({**rest, "w1": w}, targs[1], targs[2])  # noqa: E731
    same(func.hessian(w1)(args[0]["w1"], args[0]), tf.hessian(w1_torch)(targs[0]["w1"], targs[0]))
    direction = ours(mlp_params(seed=2))
    _, hv = func.hvp(lambda q: mlp_loss(q, x, t), (args[0],), (direction,))
    _, thv = tf.jvp(tf.grad(lambda q: mlp_loss_torch(q, targs[1], targs[2])), (targs[0],),
                    (theirs(mlp_params(seed=2)),))
    same(hv[0], thv)


def test_sin_exp_with_broadcasting_in_every_mode():
    x, y = rng(3).normal(size=(3, 1)), rng(4).normal(size=(4,))
    args, targs = ours((x, y)), theirs((x, y))
    for argnums in (0, 1, (0, 1)):
        same(func.jacrev(sin_exp, argnums)(*args), tf.jacrev(sin_exp_torch, argnums)(*targs))
        same(func.jacfwd(sin_exp, argnums)(*args), tf.jacfwd(sin_exp_torch, argnums)(*targs))
    tangents = (rng(5).normal(size=(3, 1)), rng(6).normal(size=(4,)))
    out, tangent = func.jvp(sin_exp, args, ours(tangents))
    tout, ttangent = tf.jvp(sin_exp_torch, targs, theirs(tangents))
    same((out, tangent), (tout, ttangent))
    u = rng(7).normal(size=(3, 4))
    _, vjp_fn = func.vjp(sin_exp, *args)
    _, tvjp_fn = tf.vjp(sin_exp_torch, *targs)
    same(vjp_fn(ours(u)), tvjp_fn(theirs(u)))


def test_softmax_cross_entropy_grad_hessian_and_jacobians():
    logits = rng(8).normal(size=(5, 3))
    (z,), (tz,) = ours((logits,)), theirs((logits,))
    same(func.grad(softmax_ce)(z), tf.grad(softmax_ce_torch)(tz))
    same(func.hessian(softmax_ce)(z), tf.hessian(softmax_ce_torch)(tz))
    same(func.jacfwd(F.log_softmax)(z), tf.jacfwd(lambda a: torch.log_softmax(a, -1))(tz))
    v = rng(9).normal(size=(5, 3))
    _, hv = func.hvp(softmax_ce, (z,), (ours(v),))
    _, thv = tf.jvp(tf.grad(softmax_ce_torch), (tz,), (theirs(v),))
    same(hv[0], thv)


def test_lstm_step_with_two_outputs():
    args, targs = ours(lstm_args()), theirs(lstm_args())
    for argnums in (1, (0, 2)):
        same(func.jacrev(lstm_step, argnums)(*args), tf.jacrev(lstm_step_torch, argnums)(*targs))
        same(func.jacfwd(lstm_step, argnums)(*args), tf.jacfwd(lstm_step_torch, argnums)(*targs))
    tangents = lstm_args(seed=1)
    same(func.jvp(lstm_step, args, ours(tangents)), tf.jvp(lstm_step_torch, targs,
                                                          theirs(tangents)))
    cotangents = rng(2).normal(size=(2, 4)), rng(3).normal(size=(2, 4))
    _, vjp_fn = func.vjp(lstm_step, *args)
    _, tvjp_fn = tf.vjp(lstm_step_torch, *targs)
    same(vjp_fn(ours(cotangents)), tvjp_fn(theirs(cotangents)))
    loss = lambda *a: lstm_step(*a)[0].sum()  # noqa: E731
    tloss = lambda *a: lstm_step_torch(*a)[0].sum()  # noqa: E731
    same(func.hessian(loss, 1)(*args), tf.hessian(tloss, 1)(*targs))


def test_several_inputs_with_an_auxiliary_output():
    args, targs = ours(several_args()), theirs(several_args())
    (g, aux) = func.grad(several, argnums=(0, 2), has_aux=True)(*args)
    (tg, taux) = tf.grad(several_torch, argnums=(0, 2), has_aux=True)(*targs)
    same((g, aux), (tg, taux))
    g, (value, aux) = func.grad_and_value(several, argnums=1, has_aux=True)(*args)
    tg, (tvalue, taux) = tf.grad_and_value(several_torch, argnums=1, has_aux=True)(*targs)
    same((g, value, aux), (tg, tvalue, taux))
    for jac, tjac in ((func.jacrev, tf.jacrev), (func.jacfwd, tf.jacfwd)):
        same(jac(several, argnums=(0, 1, 2), has_aux=True)(*args),
             tjac(several_torch, argnums=(0, 1, 2), has_aux=True)(*targs))
    tangents = several_args(seed=1)
    same(func.jvp(several, args, ours(tangents), has_aux=True),
         tf.jvp(several_torch, targs, theirs(tangents), has_aux=True))
    out, vjp_fn, aux = func.vjp(several, *args, has_aux=True)
    tout, tvjp_fn, taux = tf.vjp(several_torch, *targs, has_aux=True)
    same((out, aux, vjp_fn(ours(np.array(1.5)))), (tout, taux, tvjp_fn(theirs(np.array(1.5)))))
    value, hv, aux = func.hvp(several, args, ours(tangents), has_aux=True)
    _, thv, taux = tf.jvp(lambda *a: tf.grad(several_torch, (0, 1, 2), has_aux=True)(*a),
                          targs, theirs(tangents), has_aux=True)
    same((hv, aux), (thv, taux))
