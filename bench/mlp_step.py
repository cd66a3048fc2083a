"""One training step of an MLP: 784 -> 512 -> 512 -> 10, ReLU, softmax cross-entropy, SGD.

Batch 128 of float32 inputs with int labels, lr 0.1; forward, backward and the
update, in ms per step. Every framework starts from the same weights (drawn
here from a fixed seed), so the first step's loss is the cross-check. Mostly
BLAS work (three matmuls forward, five backward) plus a few dozen operations.

    python bench/mlp_step.py --framework chainrule
"""

import numpy as np

import harness

BATCH = 128
SIZES = (784, 512, 512, 10)
LR = 0.1


def data(batch=BATCH):
    """x (batch, 784) float32, t (batch,) int64 labels, [(W (in, out), b (out,)), ...] float32."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (batch, SIZES[0])).astype(np.float32)
    t = rng.integers(0, SIZES[-1], batch)
    layers = [
        (
            rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32),
            rng.normal(0.0, 0.01, n_out).astype(np.float32),
        )
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:])
    ]
    return x, t, layers


def batch_of(args):
    """The batch size: 128, unless a caller (mlp_memory.py) sets ``args.batch``."""
    return getattr(args, "batch", BATCH)


def make_chainrule(args, keep_freed_memory=False):
    """The README's loop; ``keep_freed_memory`` is the process-wide allocator option."""
    import chainrule.functions as F
    from chainrule import nn, optim
    from chainrule.app import allocator

    if keep_freed_memory:
        allocator.keep_freed_memory()

    x, t, layers = data(batch_of(args))
    linears = [nn.Linear(n_in, n_out) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    for linear, (W, b) in zip(linears, layers):
        linear.W.data[...] = W
        linear.b.data[...] = b
    model = nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])
    opt = optim.SGD(model.parameters(), lr=LR)
    first = []
    step = harness.training_step(
        opt.zero_grad, lambda: F.softmax_cross_entropy(model(x), t), opt.step, first
    )
    return step, lambda: first[0]


def make_torch(args):
    import torch

    x, t, layers = data(batch_of(args))
    x, t = torch.from_numpy(x), torch.from_numpy(t)
    linears = [torch.nn.Linear(n_in, n_out) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    with torch.no_grad():
        for linear, (W, b) in zip(linears, layers):
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b))
    relu = torch.nn.ReLU
    model = torch.nn.Sequential(linears[0], relu(), linears[1], relu(), linears[2])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.functional.cross_entropy
    first = []
    step = harness.training_step(opt.zero_grad, lambda: loss_fn(model(x), t), opt.step, first)
    return step, lambda: first[0]


def make_dezero(args):
    dezero = harness.import_dezero()
    import dezero.functions as DF
    import dezero.layers as DL

    x, t, layers = data(batch_of(args))
    model = dezero.Model()
    model.l0, model.l1, model.l2 = (DL.Linear(W.shape[1], in_size=W.shape[0]) for W, _ in layers)
    for linear, (W, b) in zip((model.l0, model.l1, model.l2), layers):
        linear.W.data[...] = W
        linear.b.data[...] = b

    def loss_of():
        h = DF.relu(model.l0(x))
        h = DF.relu(model.l1(h))
        return DF.softmax_cross_entropy(model.l2(h), t)

    opt = dezero.optimizers.SGD(LR).setup(model)
    first = []
    step = harness.training_step(model.cleargrads, loss_of, opt.update, first)
    return step, lambda: first[0]


def make_autograd(args):
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.tracer import getval

    x, t, layers = data(batch_of(args))
    params = [list(layer) for layer in layers]
    first = []

    def loss_of(params):
        h = x
        for i, (W, b) in enumerate(params):
            h = anp.dot(h, W) + b
            if i < len(params) - 1:
                h = anp.maximum(h, 0.0)
        z = h - getval(h).max(axis=1, keepdims=True)  # the shift needs no gradient
        log_p = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.mean(log_p[np.arange(len(t)), t])

    loss_and_grads = value_and_grad(loss_of)

    def step():
        loss, grads = loss_and_grads(params)
        for layer, layer_grads in zip(params, grads):
            for p, g in zip(layer, layer_grads):
                p -= LR * g
        if not first:
            first.append(float(loss))

    return step, lambda: first[0]


def jax_step(jnp, lax, jax):
    """Loss, gradient and SGD update as one pure function of (params, x, t)."""

    def loss_of(params, x, t):
        h = x
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < len(params) - 1:
                h = jnp.maximum(h, 0.0)
        z = h - lax.stop_gradient(h.max(axis=1, keepdims=True))
        log_p = z - jnp.log(jnp.sum(jnp.exp(z), axis=1, keepdims=True))
        return -jnp.mean(jnp.take_along_axis(log_p, t[:, None], axis=1))

    def step(params, x, t):
        loss, grads = jax.value_and_grad(loss_of)(params, x, t)
        return jax.tree.map(lambda p, g: p - LR * g, params, grads), loss

    return step


def make_jax(args, jit=False):
    """JAX op by op; ``jit=True`` compiles the whole step (XLA), a reference point."""
    jax = harness.import_jax()
    x, t, layers = data(batch_of(args))
    update = jax_step(jax.numpy, jax.lax, jax)
    update = jax.jit(update) if jit else update
    return harness.jax_training_steps(jax, update, [list(layer) for layer in layers], x, t)


def make_gemms(args):
    """The step's eight GEMMs alone in NumPy (3 forward, 5 backward): the floor of any step."""
    x, _, layers = data(batch_of(args))
    (W1, _), (W2, _), (W3, _) = layers
    h1, h2 = x @ W1, x @ W1 @ W2
    gy = h2 @ W3
    out = []

    def step():
        h1_ = x @ W1
        h2_ = h1_ @ W2
        y = h2_ @ W3
        g2 = gy @ W3.T
        g1 = g2 @ W2.T
        out[:] = [y, h2.T @ gy, h1.T @ g2, x.T @ g1]

    return step, lambda: None


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "chainrule-knob": lambda args: make_chainrule(args, keep_freed_memory=True),
    "torch": make_torch,
    "dezero": make_dezero,
    "autograd": make_autograd,
    "jax": make_jax,
    "jax-jit": lambda args: make_jax(args, jit=True),
    "gemms": make_gemms,
}
DEFAULTS = {"full": (200, 10, 3.0), "quick": (30, 3, 1.0)}

if __name__ == "__main__":
    harness.main("mlp_step", IMPLEMENTATIONS, "ms", 1e3, DEFAULTS)
