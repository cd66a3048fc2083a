"""A recurrent net written as a plain loop, as DeZero's book and the README teach, in ms.

No RNN module: each of 35 steps is ``h = tanh(x[:, t] @ Wx + h @ Wh + b)`` and a readout
``y = h @ Wy``, with the loss the sum of the steps' mean squared errors against a target
(batch 32, inputs 64, hidden 128, float32, x and the targets plain NumPy arrays). One step
of the benchmark is the forward loop and the backward pass; the gradients are cleared
first. About 280 small operations: what each framework spends around a slice, a small
matmul and an add shows here, as in a user's own recurrent model.

    python bench/rnn_loop.py --framework chainrule
"""

import numpy as np

import harness

STEPS, BATCH, INPUTS, HIDDEN = 35, 32, 64, 128


def data():
    """x (32, 35, 64), targets (32, 35, 1) and Wx, Wh, b, Wy, all float32 from a fixed seed."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (BATCH, STEPS, INPUTS)).astype(np.float32)
    target = rng.normal(0.0, 1.0, (BATCH, STEPS, 1)).astype(np.float32)
    Wx = rng.normal(0.0, 1.0 / np.sqrt(INPUTS), (INPUTS, HIDDEN)).astype(np.float32)
    Wh = rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), (HIDDEN, HIDDEN)).astype(np.float32)
    b = np.zeros(HIDDEN, np.float32)
    Wy = rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), (HIDDEN, 1)).astype(np.float32)
    return x, target, [Wx, Wh, b, Wy]


def make_chainrule(args):
    import chainrule as cr
    import chainrule.functions as F

    x, target, arrays = data()
    Wx, Wh, b, Wy = params = [cr.Parameter(a) for a in arrays]

    def step():
        for p in params:
            p.cleargrad()
        h, loss = None, 0
        for t in range(STEPS):
            a = x[:, t] @ Wx + b
            h = F.tanh(a if h is None else a + h @ Wh)
            loss = loss + F.mean_squared_error(h @ Wy, target[:, t])
        loss.backward()

    return step, lambda: float(Wy.grad.data.sum())


def make_torch(args):
    import torch

    x, target, arrays = data()
    x, target = torch.from_numpy(x), torch.from_numpy(target)
    Wx, Wh, b, Wy = params = [torch.tensor(a, requires_grad=True) for a in arrays]

    def step():
        for p in params:
            p.grad = None
        h, loss = None, 0
        for t in range(STEPS):
            a = x[:, t] @ Wx + b
            h = torch.tanh(a if h is None else a + h @ Wh)
            loss = loss + torch.nn.functional.mse_loss(h @ Wy, target[:, t])
        loss.backward()

    return step, lambda: float(Wy.grad.sum())


def make_dezero(args):
    dezero = harness.import_dezero()
    import dezero.functions as DF

    x, target, arrays = data()
    Wx, Wh, b, Wy = params = [dezero.Parameter(a) for a in arrays]

    def step():
        for p in params:
            p.cleargrad()
        h, loss = None, 0
        for t in range(STEPS):
            a = DF.matmul(x[:, t], Wx) + b
            h = DF.tanh(a if h is None else a + DF.matmul(h, Wh))
            loss = loss + DF.mean_squared_error(DF.matmul(h, Wy), target[:, t])
        loss.backward()

    return step, lambda: float(Wy.grad.data.sum())


def _loss_of(anp):
    """The loss as a pure function of the four weights, for autograd and JAX."""
    x, target, _ = data()

    def loss_of(params):
        Wx, Wh, b, Wy = params
        h, loss = None, 0.0
        for t in range(STEPS):
            a = x[:, t] @ Wx + b
            h = anp.tanh(a if h is None else a + h @ Wh)
            loss = loss + anp.mean((h @ Wy - target[:, t]) ** 2)
        return loss

    return loss_of


def make_autograd(args):
    import autograd.numpy as anp
    from autograd import grad

    gradient = grad(_loss_of(anp))
    params = data()[2]
    grads = [None]

    def step():
        grads[0] = gradient(params)

    return step, lambda: float(grads[0][3].sum())


def make_jax(args):
    """JAX op by op (no jit): ``jax.grad`` of the plain Python loop."""
    jax = harness.import_jax()
    gradient = jax.grad(_loss_of(jax.numpy))
    params = [jax.numpy.asarray(a) for a in data()[2]]
    grads = [None]

    def step():
        grads[0] = jax.block_until_ready(gradient(params))

    return step, lambda: float(grads[0][3].sum())


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "torch": make_torch,
    "dezero": make_dezero,
    "autograd": make_autograd,
    "jax": make_jax,
}
DEFAULTS = {"full": (200, 10, 3.0), "quick": (30, 3, 1.0)}

if __name__ == "__main__":
    harness.main("rnn_loop", IMPLEMENTATIONS, "ms", 1e3, DEFAULTS)
