"""Per-operation overhead: ``y = tanh(y * a + b)`` 100 times on 16 floats, then backward.

a, b and y0 are float32 vectors of 16 elements, all needing gradients. One
step is the forward chain (300 operations: mul, add, tanh) plus the backward
pass seeded with ones; the time is reported in µs per operation (step / 300).
The arrays are so small that the arithmetic is free: this measures what each
framework spends around an operation (recording, dispatch, allocation).

    python bench/op_overhead.py --framework chainrule
"""

import numpy as np

import harness

REPETITIONS = 100
OPERATIONS = 3 * REPETITIONS
SIZE = 16


def data():
    """a, b, y0 as float32 arrays from a fixed seed; |a| < 1 keeps the chain bounded."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 1.0, SIZE).astype(np.float32)
    b = rng.normal(0.0, 0.1, SIZE).astype(np.float32)
    y0 = rng.normal(0.0, 1.0, SIZE).astype(np.float32)
    return a, b, y0


def make_chainrule(args):
    import chainrule as cr
    import chainrule.functions as F

    a, b, y0 = (cr.Variable(x) for x in data())

    def step():
        y = y0
        for _ in range(REPETITIONS):
            y = F.tanh(y * a + b)
        a.cleargrad()
        b.cleargrad()
        y0.cleargrad()
        y.backward()

    return step, lambda: a.grad.data.sum()


def make_torch(args):
    import torch

    a, b, y0 = (torch.tensor(x, requires_grad=True) for x in data())
    ones = torch.ones(SIZE)

    def step():
        y = y0
        for _ in range(REPETITIONS):
            y = torch.tanh(y * a + b)
        a.grad = b.grad = y0.grad = None
        y.backward(ones)

    return step, lambda: a.grad.sum().item()


def make_dezero(args):
    dezero = harness.import_dezero()
    import dezero.functions as DF

    a, b, y0 = (dezero.Variable(x) for x in data())

    def step():
        y = y0
        for _ in range(REPETITIONS):
            y = DF.tanh(y * a + b)
        a.cleargrad()
        b.cleargrad()
        y0.cleargrad()
        y.backward()

    return step, lambda: a.grad.data.sum()


def make_autograd(args):
    import autograd.numpy as anp
    from autograd import make_vjp

    params = data()
    ones = np.ones(SIZE, dtype=np.float32)
    grads = [None]

    def chain(params):
        a, b, y = params
        for _ in range(REPETITIONS):
            y = anp.tanh(y * a + b)
        return y

    vjp_of_chain = make_vjp(chain)

    def step():
        vjp, _ = vjp_of_chain(params)
        grads[0] = vjp(ones)

    return step, lambda: grads[0][0].sum()


def make_jax(args):
    """JAX op by op (no jit): ``jax.vjp`` of a plain Python function."""
    jax = harness.import_jax()
    jnp = jax.numpy

    a, b, y0 = (jnp.asarray(x) for x in data())
    ones = jnp.ones(SIZE, dtype=jnp.float32)
    grads = [None]

    def chain(a, b, y):
        for _ in range(REPETITIONS):
            y = jnp.tanh(y * a + b)
        return y

    def step():
        _, vjp = jax.vjp(chain, a, b, y0)
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
    harness.main("op_overhead", IMPLEMENTATIONS, "us/op", 1e6 / OPERATIONS, DEFAULTS)
