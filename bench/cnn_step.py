"""One training step of a small CNN on (32, 1, 28, 28) float32 images, in ms.

conv 3x3 1->16 (pad 1) + ReLU + maxpool 2, conv 3x3 16->32 (pad 1) + ReLU +
maxpool 2, flatten (32 * 7 * 7 = 1568), linear 1568->10, softmax cross-entropy,
SGD lr 0.1. Every framework starts from the same weights (fixed seed), so the
first step's loss is the cross-check. HIPS autograd has no conv2d primitive:
its convolution is nine shifted tensordots, what a user of it would write.

    python bench/cnn_step.py --framework chainrule
"""

import numpy as np

import harness

BATCH = 32
CHANNELS = (1, 16, 32)
CLASSES = 10
FLAT = CHANNELS[-1] * 7 * 7
LR = 0.1


def data():
    """x (32, 1, 28, 28) float32, t (32,) int64, [(W, b)] for conv1, conv2, linear (W (in, out))."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (BATCH, CHANNELS[0], 28, 28)).astype(np.float32)
    t = rng.integers(0, CLASSES, BATCH)
    params = []
    for c_in, c_out in zip(CHANNELS[:-1], CHANNELS[1:]):
        W = rng.normal(0.0, np.sqrt(2.0 / (9 * c_in)), (c_out, c_in, 3, 3))
        params.append((W.astype(np.float32), rng.normal(0.0, 0.01, c_out).astype(np.float32)))
    W = rng.normal(0.0, np.sqrt(1.0 / FLAT), (FLAT, CLASSES)).astype(np.float32)
    params.append((W, rng.normal(0.0, 0.01, CLASSES).astype(np.float32)))
    return x, t, params


def make_chainrule(args, keep_freed_memory=False):
    """The README's loop; ``keep_freed_memory`` is the process-wide allocator option."""
    import chainrule.functions as F
    from chainrule import nn, optim
    from chainrule.app import allocator

    if keep_freed_memory:
        allocator.keep_freed_memory()

    x, t, params = data()
    layers = [nn.Conv2d(1, 16, 3, pad=1), nn.Conv2d(16, 32, 3, pad=1), nn.Linear(FLAT, CLASSES)]
    for layer, (W, b) in zip(layers, params):
        layer.W.data[...] = W
        layer.b.data[...] = b
    conv1, conv2, fc = layers
    model = nn.Sequential(
        conv1, nn.ReLU(), nn.MaxPool2d(2), conv2, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), fc
    )
    opt = optim.SGD(model.parameters(), lr=LR)
    first = []
    step = harness.training_step(
        opt.zero_grad, lambda: F.softmax_cross_entropy(model(x), t), opt.step, first
    )
    return step, lambda: first[0]


def make_torch(args):
    import torch
    from torch import nn

    x, t, params = data()
    x, t = torch.from_numpy(x), torch.from_numpy(t)
    layers = [nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1), nn.Linear(FLAT, 10)]
    with torch.no_grad():
        for layer, (W, b) in zip(layers, params):
            layer.weight.copy_(torch.from_numpy(W.T if W.ndim == 2 else W))
            layer.bias.copy_(torch.from_numpy(b))
    conv1, conv2, fc = layers
    model = nn.Sequential(
        conv1, nn.ReLU(), nn.MaxPool2d(2), conv2, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), fc
    )
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.functional.cross_entropy
    first = []
    step = harness.training_step(opt.zero_grad, lambda: loss_fn(model(x), t), opt.step, first)
    return step, lambda: first[0]


def make_dezero(args):
    dezero = harness.import_dezero()
    import dezero.functions as DF
    import dezero.layers as DL

    x, t, params = data()
    model = dezero.Model()
    model.conv1 = DL.Conv2d(16, 3, stride=1, pad=1, in_channels=1)
    model.conv2 = DL.Conv2d(32, 3, stride=1, pad=1, in_channels=16)
    model.fc = DL.Linear(CLASSES, in_size=FLAT)
    for layer, (W, b) in zip((model.conv1, model.conv2, model.fc), params):
        layer.W.data[...] = W
        layer.b.data[...] = b

    def loss_of():
        h = DF.pooling(DF.relu(model.conv1(x)), 2, 2)
        h = DF.pooling(DF.relu(model.conv2(h)), 2, 2)
        return DF.softmax_cross_entropy(model.fc(DF.reshape(h, (BATCH, FLAT))), t)

    opt = dezero.optimizers.SGD(LR).setup(model)
    first = []
    step = harness.training_step(model.cleargrads, loss_of, opt.update, first)
    return step, lambda: first[0]


def conv3x3(anp, x, W, b):
    """Padding 1, stride 1: the sum over the 3x3 taps of a shifted slice times W[:, :, i, j]."""
    _, _, h, w = x.shape
    padded = anp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), "constant")
    out = 0.0
    for i in range(3):
        for j in range(3):
            out = out + anp.tensordot(padded[:, :, i:i + h, j:j + w], W[:, :, i, j], ([1], [1]))
    return anp.transpose(out, (0, 3, 1, 2)) + b[:, None, None]


def pool2(anp, x):
    """2x2 max pooling, stride 2, as a reshape and a max over the window axes."""
    n, c, h, w = x.shape
    return anp.max(anp.reshape(x, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))


def make_autograd(args):
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.tracer import getval

    x, t, params = data()
    params = [list(p) for p in params]
    first = []

    def loss_of(params):
        (W1, b1), (W2, b2), (W3, b3) = params
        h = pool2(anp, anp.maximum(conv3x3(anp, x, W1, b1), 0.0))
        h = pool2(anp, anp.maximum(conv3x3(anp, h, W2, b2), 0.0))
        logits = anp.dot(anp.reshape(h, (BATCH, FLAT)), W3) + b3
        z = logits - getval(logits).max(axis=1, keepdims=True)  # the shift needs no gradient
        log_p = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.mean(log_p[np.arange(BATCH), t])

    loss_and_grads = value_and_grad(loss_of)

    def step():
        loss, grads = loss_and_grads(params)
        for layer, layer_grads in zip(params, grads):
            for p, g in zip(layer, layer_grads):
                p -= LR * g
        if not first:
            first.append(float(loss))

    return step, lambda: first[0]


def jax_step(jax):
    """Loss, gradient and SGD update as one pure function of (params, x, t)."""
    jnp, lax = jax.numpy, jax.lax

    def block(h, W, b):
        h = lax.conv_general_dilated(h, W, (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = jnp.maximum(h + b[:, None, None], 0.0)
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_of(params, x, t):
        (W1, b1), (W2, b2), (W3, b3) = params
        logits = block(block(x, W1, b1), W2, b2).reshape(BATCH, FLAT) @ W3 + b3
        z = logits - lax.stop_gradient(logits.max(axis=1, keepdims=True))
        log_p = z - jnp.log(jnp.sum(jnp.exp(z), axis=1, keepdims=True))
        return -jnp.mean(jnp.take_along_axis(log_p, t[:, None], axis=1))

    def step(params, x, t):
        loss, grads = jax.value_and_grad(loss_of)(params, x, t)
        return jax.tree.map(lambda p, g: p - LR * g, params, grads), loss

    return step


def make_jax(args, jit=False):
    """JAX op by op; ``jit=True`` compiles the whole step (XLA), a reference point."""
    jax = harness.import_jax()
    x, t, params = data()
    update = jax.jit(jax_step(jax)) if jit else jax_step(jax)
    return harness.jax_training_steps(jax, update, [list(p) for p in params], x, t)


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "chainrule-knob": lambda args: make_chainrule(args, keep_freed_memory=True),
    "torch": make_torch,
    "dezero": make_dezero,
    "autograd": make_autograd,
    "jax": make_jax,
    "jax-jit": lambda args: make_jax(args, jit=True),
}
DEFAULTS = {"full": (100, 5, 3.0), "quick": (20, 3, 1.0)}

if __name__ == "__main__":
    harness.main("cnn_step", IMPLEMENTATIONS, "ms", 1e3, DEFAULTS)
