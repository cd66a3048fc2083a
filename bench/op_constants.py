"""Per-operation overhead with constant operands: ``y = tanh(y * a + b)``, a and b plain arrays.

The same chain as ``op_overhead.py``, written the way most code writes it: only
y0 needs a gradient, and a, b are constants (plain float32 NumPy arrays for
chainrule, DeZero and HIPS autograd, tensors without ``requires_grad`` for
PyTorch, closed-over arrays for JAX). One step is the 300 forward operations
plus the backward pass seeded with ones, in µs per operation (step / 300).
The cross-check is Σ ∂/∂y0.

    python bench/op_constants.py --framework chainrule
"""

import numpy as np
from op_overhead import OPERATIONS, REPETITIONS, SIZE, data

import harness


def make_chainrule(args):
    import chainrule as cr
    import chainrule.functions as F

    a, b, y0 = data()
    y0 = cr.Variable(y0)

    def step():
        y = y0
        for _ in range(REPETITIONS):
            y = F.tanh(y * a + b)
        y0.cleargrad()
        y.backward()

    return step, lambda: y0.grad.data.sum()


def make_torch(args):
    import torch

    a, b, y0 = (torch.tensor(x) for x in data())
    y0.requires_grad_(True)
    ones = torch.ones(SIZE)

    def step():
        y = y0
        for _ in range(REPETITIONS):
            y = torch.tanh(y * a + b)
        y0.grad = None
        y.backward(ones)

    return step, lambda: y0.grad.sum().item()


def make_dezero(args):
    dezero = harness.import_dezero()
    import dezero.functions as DF

    a, b, y0 = data()
    y0 = dezero.Variable(y0)

    def step():
        y = y0
        for _ in range(REPETITIONS):
            y = DF.tanh(y * a + b)
        y0.cleargrad()
        y.backward()

    return step, lambda: y0.grad.data.sum()


def make_autograd(args):
    import autograd.numpy as anp
    from autograd import make_vjp

    a, b, y0 = data()
    ones = np.ones(SIZE, dtype=np.float32)
    grads = [None]

    def chain(y):
        for _ in range(REPETITIONS):
            y = anp.tanh(y * a + b)
        return y

    vjp_of_chain = make_vjp(chain)

    def step():
        vjp, _ = vjp_of_chain(y0)
        grads[0] = vjp(ones)

    return step, lambda: grads[0].sum()


def make_jax(args):
    """JAX op by op (no jit): ``jax.vjp`` of a Python function closing over a and b."""
    jax = harness.import_jax()
    jnp = jax.numpy

    a, b, y0 = (jnp.asarray(x) for x in data())
    ones = jnp.ones(SIZE, dtype=jnp.float32)
    grads = [None]

    def chain(y):
        for _ in range(REPETITIONS):
            y = jnp.tanh(y * a + b)
        return y

    def step():
        _, vjp = jax.vjp(chain, y0)
        grads[0] = jax.block_until_ready(vjp(ones))

    return step, lambda: float(grads[0][0].sum())


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "torch": make_torch,
    "dezero": make_dezero,
    "autograd": make_autograd,
    "jax": make_jax,
}
DEFAULTS = {"full": (300, 20, 3.0), "quick": (60, 5, 1.0)}

if __name__ == "__main__":
    harness.main("op_constants", IMPLEMENTATIONS, "us/op", 1e6 / OPERATIONS, DEFAULTS)
