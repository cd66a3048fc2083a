"""One training step of an LSTM language model, in ms.

Vocabulary 64, embedding 64, LSTM hidden 128 (one layer, batch-first), batch 32,
35 time steps: embedding -> LSTM -> linear 128->64 at every step, softmax
cross-entropy over all 32 x 35 predictions, backward, gradient clipping to a
total norm of 1, SGD lr 1. Every framework starts from the same weights (fixed
seed; PyTorch's layout: gates i, f, g, o stacked in the rows of weight_ih and
weight_hh, two biases), so the first step's loss is the cross-check. Recurrent
steps are many small operations: this is where per-operation overhead shows.

    python bench/lstm_step.py --framework chainrule
"""

import numpy as np

import harness

VOCAB = 64
EMBED = 64
HIDDEN = 128
BATCH = 32
STEPS = 35
LR = 1.0
CLIP = 1.0


def data():
    """ids and targets (32, 35) int64 (the targets are the next token), and the weights.

    Weights in PyTorch's layout: embedding (V, E); weight_ih (4H, E), weight_hh (4H, H),
    bias_ih, bias_hh (4H,); linear weight (V, H), bias (V,), all float32.
    """
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (BATCH, STEPS + 1))
    bound = 1.0 / np.sqrt(HIDDEN)

    def uniform(*shape):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    weights = {
        "embedding": rng.normal(0.0, 1.0, (VOCAB, EMBED)).astype(np.float32),
        "weight_ih": uniform(4 * HIDDEN, EMBED),
        "weight_hh": uniform(4 * HIDDEN, HIDDEN),
        "bias_ih": uniform(4 * HIDDEN),
        "bias_hh": uniform(4 * HIDDEN),
        "weight": uniform(VOCAB, HIDDEN),
        "bias": uniform(VOCAB),
    }
    return tokens[:, :-1], tokens[:, 1:], weights


def make_chainrule(args):
    """As a user writes it: Embedding -> LSTM -> Linear, the README's loop, no knobs."""
    import chainrule.functions as F
    from chainrule import nn, optim

    x, t, w = data()

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True)
            self.out = nn.Linear(HIDDEN, VOCAB)

        def forward(self, ids):
            h, _ = self.lstm(self.embed(ids))
            return self.out(h)

    model = LanguageModel()
    model.embed.W.data[...] = w["embedding"]
    model.lstm.W_x_l0.data[...] = w["weight_ih"].T
    model.lstm.W_h_l0.data[...] = w["weight_hh"].T
    model.lstm.b_x_l0.data[...] = w["bias_ih"]
    model.lstm.b_h_l0.data[...] = w["bias_hh"]
    model.out.W.data[...] = w["weight"].T
    model.out.b.data[...] = w["bias"]
    opt = optim.SGD(model.parameters(), lr=LR)

    def update():
        optim.clip_grad_norm(model.parameters(), CLIP)
        opt.step()

    def loss_of():
        return F.softmax_cross_entropy(model(x).reshape(-1, VOCAB), t.reshape(-1))

    first = []
    step = harness.training_step(opt.zero_grad, loss_of, update, first)
    return step, lambda: first[0]


def make_torch(args):
    import torch

    x, t, w = data()
    x, t = torch.from_numpy(x), torch.from_numpy(t)

    class LanguageModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(VOCAB, EMBED)
            self.lstm = torch.nn.LSTM(EMBED, HIDDEN, batch_first=True)
            self.out = torch.nn.Linear(HIDDEN, VOCAB)

        def forward(self, ids):
            h, _ = self.lstm(self.embed(ids))
            return self.out(h)

    model = LanguageModel()
    with torch.no_grad():
        model.embed.weight.copy_(torch.from_numpy(w["embedding"]))
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(model.lstm, f"{name}_l0").copy_(torch.from_numpy(w[name]))
        model.out.weight.copy_(torch.from_numpy(w["weight"]))
        model.out.bias.copy_(torch.from_numpy(w["bias"]))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.functional.cross_entropy

    def update():
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()

    first = []
    step = harness.training_step(
        opt.zero_grad, lambda: loss_fn(model(x).reshape(-1, VOCAB), t.reshape(-1)), update, first
    )
    return step, lambda: first[0]


def make_dezero(args):
    """DeZero's LSTM layer is one step of a cell with a Linear per gate; its ClipGrad hook
    clips the total norm as torch does. The loss is the mean of the 35 per-step means."""
    dezero = harness.import_dezero()
    import dezero.functions as DF
    import dezero.layers as DL

    x, t, w = data()
    model = dezero.Model()
    model.embed = DL.EmbedID(VOCAB, EMBED)
    model.lstm = DL.LSTM(HIDDEN, in_size=EMBED)
    model.out = DL.Linear(VOCAB, in_size=HIDDEN)
    model.embed.W.data = w["embedding"].copy()
    lstm = model.lstm
    for k, gate in enumerate("ifuo"):  # DeZero's u is the g (cell input) gate
        rows = slice(k * HIDDEN, (k + 1) * HIDDEN)
        getattr(lstm, f"x2{gate}").W.data = w["weight_ih"][rows].T.copy()
        getattr(lstm, f"x2{gate}").b.data = w["bias_ih"][rows] + w["bias_hh"][rows]
        getattr(lstm, f"h2{gate}").W.data = w["weight_hh"][rows].T.copy()
    model.out.W.data = w["weight"].T.copy()
    model.out.b.data = w["bias"].copy()

    def loss_of():
        lstm.reset_state()
        loss = 0
        for step in range(STEPS):
            h = lstm(model.embed(x[:, step]))
            loss = loss + DF.softmax_cross_entropy(model.out(h), t[:, step])
        return loss / STEPS

    opt = dezero.optimizers.SGD(LR).setup(model)
    opt.add_hook(dezero.optimizers.ClipGrad(CLIP))
    first = []
    step = harness.training_step(model.cleargrads, loss_of, opt.update, first)
    return step, lambda: first[0]


def jax_step(jax):
    """Loss, gradient, clipping and SGD as one pure function of (params, x, t); lax.scan
    runs the 35 steps."""
    jnp, lax = jax.numpy, jax.lax

    def loss_of(params, x, t):
        embedded = params["embedding"][x.T]  # (T, N, E): scan walks the leading axis
        xw = embedded @ params["weight_ih"].T + params["bias_ih"] + params["bias_hh"]

        def cell(state, xw_t):
            h, c = state
            i, f, g, o = jnp.split(xw_t + h @ params["weight_hh"].T, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((BATCH, HIDDEN), xw.dtype)
        _, hs = lax.scan(cell, (zeros, zeros), xw)
        logits = hs @ params["weight"].T + params["bias"]  # (T, N, V)
        log_p = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(log_p, t.T[..., None], axis=-1))

    def step(params, x, t):
        loss, grads = jax.value_and_grad(loss_of)(params, x, t)
        leaves = jax.tree.leaves(grads)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in leaves))
        scale = jnp.minimum(1.0, CLIP / (norm + 1e-6))
        return jax.tree.map(lambda p, g: p - LR * scale * g, params, grads), loss

    return step


def make_jax(args, jit=False):
    """JAX op by op; ``jit=True`` compiles the whole step (XLA), a reference point."""
    jax = harness.import_jax()
    x, t, w = data()
    update = jax.jit(jax_step(jax)) if jit else jax_step(jax)
    return harness.jax_training_steps(jax, update, w, x, t)


IMPLEMENTATIONS = {
    "chainrule": make_chainrule,
    "torch": make_torch,
    "dezero": make_dezero,
    "jax": make_jax,
    "jax-jit": lambda args: make_jax(args, jit=True),
}
DEFAULTS = {"full": (60, 5, 4.0), "quick": (10, 2, 1.0)}

if __name__ == "__main__":
    harness.main("lstm_step", IMPLEMENTATIONS, "ms", 1e3, DEFAULTS)
