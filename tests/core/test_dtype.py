"""dtype in = dtype out: a float32 graph stays float32 forward, backward and double backward."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F

FAMILIES = ("math", "activation", "reduction", "shape", "linalg", "loss", "loss_binary",
            "loss_regression", "attention", "noise")
LABELS = np.array([0, 3, 1])
MASK = np.array([[True, False, True, False]] * 3)

# name -> a call on float32 Variables x (3, 4) in [0.5, 1.5), y (3, 4), w (4, 2), b (2,)
CALLS = {
    "add": lambda x, y, w, b: F.add(x, y),
    "sub": lambda x, y, w, b: F.sub(x, 1.5),
    "mul": lambda x, y, w, b: F.mul(2.0, x),
    "div": lambda x, y, w, b: F.div(x, y),
    "pow": lambda x, y, w, b: F.pow(x, y),
    "neg": lambda x, y, w, b: F.neg(x),
    "square": lambda x, y, w, b: F.square(x),
    "sqrt": lambda x, y, w, b: F.sqrt(x),
    "exp": lambda x, y, w, b: F.exp(x),
    "log": lambda x, y, w, b: F.log(x),
    "sin": lambda x, y, w, b: F.sin(x),
    "cos": lambda x, y, w, b: F.cos(x),
    "tan": lambda x, y, w, b: F.tan(x),
    "tanh": lambda x, y, w, b: F.tanh(x),
    "abs": lambda x, y, w, b: F.abs(x - 1.0),
    "clip": lambda x, y, w, b: F.clip(x, 0.7, 1.2),
    "sigmoid": lambda x, y, w, b: F.sigmoid(x),
    "relu": lambda x, y, w, b: F.relu(x - 1.0),
    "leaky_relu": lambda x, y, w, b: F.leaky_relu(x - 1.0, 0.1),
    "gelu": lambda x, y, w, b: F.gelu(x),
    "silu": lambda x, y, w, b: F.silu(x - 1.0),
    "elu": lambda x, y, w, b: F.elu(x - 1.0, alpha=0.5),
    "softplus": lambda x, y, w, b: F.softplus(x, beta=2.0),
    "hardtanh": lambda x, y, w, b: F.hardtanh(x, 0.7, 1.2),
    "softmax": lambda x, y, w, b: F.softmax(x),
    "log_softmax": lambda x, y, w, b: F.log_softmax(x, axis=0),
    "sum": lambda x, y, w, b: F.sum(x, axis=1),
    "mean": lambda x, y, w, b: F.mean(x),
    "max": lambda x, y, w, b: F.max(x, axis=0),
    "min": lambda x, y, w, b: F.min(x, keepdims=True),
    "logsumexp": lambda x, y, w, b: F.logsumexp(x, axis=1),
    "cumsum": lambda x, y, w, b: F.cumsum(x, axis=1),
    "var": lambda x, y, w, b: F.var(x, axis=0),
    "std": lambda x, y, w, b: F.std(x, dim=1, keepdim=True),
    "reshape": lambda x, y, w, b: F.reshape(x, (4, 3)),
    "transpose": lambda x, y, w, b: F.transpose(x),
    "broadcast_to": lambda x, y, w, b: F.broadcast_to(x, (2, 3, 4)),
    "sum_to": lambda x, y, w, b: F.sum_to(x, (1, 4)),
    "get_item": lambda x, y, w, b: F.get_item(x, np.array([0, 0, 2])),
    "concat": lambda x, y, w, b: F.concat([x, y], axis=1),
    "cat": lambda x, y, w, b: F.cat([x, y], dim=1),
    "stack": lambda x, y, w, b: F.stack([x, y]),
    "where": lambda x, y, w, b: F.where(MASK, x, 0.0),
    "flatten": lambda x, y, w, b: F.flatten(F.reshape(x, (3, 2, 2))),
    "expand_dims": lambda x, y, w, b: F.expand_dims(x, 1),
    "unsqueeze": lambda x, y, w, b: F.unsqueeze(x, -1),
    "squeeze": lambda x, y, w, b: F.squeeze(F.expand_dims(x, 0)),
    "matmul": lambda x, y, w, b: F.matmul(x, w),
    "linear": lambda x, y, w, b: F.linear(x, w, b),
    "einsum": lambda x, y, w, b: F.einsum("ij,ij,jk->ik", x, y, w),
    "vector_norm": lambda x, y, w, b: F.vector_norm(x, 3, axis=1),
    "normalize": lambda x, y, w, b: F.normalize(x),
    "cosine_similarity": lambda x, y, w, b: F.cosine_similarity(x, y),
    "split": lambda x, y, w, b: F.split(x, [1, 3], dim=1)[1],
    "chunk": lambda x, y, w, b: F.chunk(x, 2)[0],
    "pad": lambda x, y, w, b: F.pad(x, (1, 2), mode="reflect"),
    "softmax_cross_entropy": lambda x, y, w, b: F.softmax_cross_entropy(x, LABELS),
    "mean_squared_error": lambda x, y, w, b: F.mean_squared_error(x, y),
    "sigmoid_cross_entropy": lambda x, y, w, b: F.sigmoid_cross_entropy(x, MASK),
    "cross_entropy": lambda x, y, w, b: F.cross_entropy(x, LABELS, b.data.repeat(2),
                                                        label_smoothing=0.1),
    "nll_loss": lambda x, y, w, b: F.nll_loss(F.log_softmax(x), LABELS, reduction="sum"),
    "kl_div": lambda x, y, w, b: F.kl_div(F.log(x), y, reduction="batchmean"),
    "mse_loss": lambda x, y, w, b: F.mse_loss(x, y, reduction="sum"),
    "l1_loss": lambda x, y, w, b: F.l1_loss(x, y),
    "huber_loss": lambda x, y, w, b: F.huber_loss(x, y, delta=0.3),
    "smooth_l1_loss": lambda x, y, w, b: F.smooth_l1_loss(x, y, beta=0.3),
    "binary_cross_entropy": lambda x, y, w, b: F.binary_cross_entropy(x - 0.5, MASK),
    "binary_cross_entropy_with_logits": lambda x, y, w, b: F.binary_cross_entropy_with_logits(
        x, MASK, pos_weight=np.float32([1, 2, 3, 4])),
    "scaled_dot_product_attention": lambda x, y, w, b: F.scaled_dot_product_attention(
        x, y, x, is_causal=True),
    "dropout": lambda x, y, w, b: F.dropout(x, 0.5),
}


def float32_inputs():
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (3, 4), (4, 2), (2,)]
    return [cr.Variable(rng.uniform(0.5, 1.5, size=s).astype(np.float32)) for s in shapes]


INDICES = {"argmax", "argmin"}  # integer results, no gradient: checked below


def test_every_function_of_these_families_is_covered():
    mine = {n for n in F.__all__ if getattr(F, n).__module__.rsplit(".", 1)[-1] in FAMILIES}
    assert mine == set(CALLS) | INDICES


@pytest.mark.parametrize("name", sorted(INDICES))
def test_indices_of_float32_are_integers_that_need_no_gradient(name):
    out = getattr(F, name)(float32_inputs()[0], dim=1)
    assert out.dtype.kind == "i" and not out.requires_grad and out.creator is None


@pytest.mark.parametrize("name", sorted(CALLS))
def test_float32_in_float32_out_with_float32_gradients_of_both_orders(name):
    np.random.seed(0)
    inputs = float32_inputs()
    out = CALLS[name](*inputs)
    assert out.dtype == np.float32, f"{name} forward gave {out.dtype}"
    grads = cr.grad((out * out).sum(), inputs, create_graph=True, allow_unused=True)
    used = [(v, g) for v, g in zip(inputs, grads) if g is not None]
    assert used, f"{name} gave no gradient"
    for _, g in used:
        assert g.dtype == np.float32, f"{name} gradient is {g.dtype}"
    total = sum((g * g).sum() for _, g in used)
    second = cr.grad(total, [v for v, _ in used], allow_unused=True)
    for g in second:
        assert g is None or g.dtype == np.float32, f"{name} second gradient is {g.dtype}"


@pytest.mark.parametrize("expression", [
    lambda x: x * 2.0, lambda x: 2.0 * x, lambda x: x / 3, lambda x: x**2.0, lambda x: 1 - x,
    lambda x: x + np.float32(1.5), lambda x: np.ones(3, np.float32) * x, lambda x: x @ x,
])
def test_python_numbers_take_the_float32_dtype(expression):
    x = cr.Variable(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    y = expression(x)
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_a_float32_chain_backward_stays_float32():
    x = cr.Variable(np.linspace(-1, 1, 16, dtype=np.float32))
    a, b = (cr.Variable(np.full(16, v, dtype=np.float32)) for v in (0.9, 0.1))
    y = x
    for _ in range(10):
        y = F.tanh(y * a + b)
    y.sum().backward()
    assert all(v.grad.dtype == np.float32 for v in (x, a, b))
