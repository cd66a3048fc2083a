"""The rows of the edge-value sweep (test_edge_values.py): each op, its torch twin, its inputs.

Edge inputs: 0 and -0.0, ±inf, NaN, ties, huge and tiny magnitudes, empty arrays, integer and
bool arrays. SWEEP compares forward values and gradients with torch (second gradients too for
the elementwise ops), EMPTY the same on empty arrays, WHOLE forward values on int and bool
inputs. KNOWN_DIFFERENCES lists where chainrule differs from torch on purpose, and why.
"""

import operator
from typing import Callable, NamedTuple

import numpy as np

import chainrule as cr
import chainrule.functions as F
from harness import torch

nnf = torch.nn.functional if torch is not None else None
inf, nan = np.inf, np.nan

EDGES = np.array([0.0, -0.0, inf, -inf, nan, 1e300, -1e300, 1e-300, -1e-300, 1e-8, 1.0, -2.5,
                  800.0, -800.0, 0.5])
PAIRS = [a.ravel() for a in np.meshgrid(EDGES, EDGES)]  # every pair, each its own element
ROWS = np.array([  # reduced along axis 1: ties, infinities, NaN, overflow, signed zeros
    [1, 2, 2, 0.5], [3, 3, 3, 3], [inf, 1, 2, 3], [-inf, 1, 2, 3], [inf, inf, 1, 2],
    [-inf, -inf, -inf, -inf], [inf, -inf, 0, 1], [nan, 1, 2, 3], [nan, inf, 1, 2],
    [1e300, 1e300, -1e300, 0], [800, 800, 0, -800], [0, -0.0, 0, -0.0], [inf, inf, inf, inf],
    [1e-300, -1e-300, 1e-300, 0]])
INTS = np.array([-3, -1, 0, 0, 2, 5])
BOOLS = np.array([True, False, True, True])
LABELS = np.arange(len(ROWS)) % 4
PROBS = np.array([0.0, -0.0, 1.0, 0.5, 1e-300, 1 - 1e-16, 0.25])  # torch refuses NaN
TARGETS = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0])


def sprinkled(shape, seed=0):
    """Standard normal values with inf, -inf, NaN, 0, -0.0 and 1e300 at a few places."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    for value in (inf, -inf, nan, 0.0, -0.0, 1e300):
        a.reshape(-1)[rng.integers(0, a.size)] = value
    return a


IMAGE = sprinkled((2, 2, 4, 4))
IMAGE[1, 1, :2, :2] = -inf  # a window of -inf only
IMAGE[1, 0, 2:, 2:] = 1.5  # a window of ties
KERNEL = np.random.default_rng(1).standard_normal((3, 2, 3, 3))


def torch_recurrence(kind):
    """torch's loop of ``F.rnn``, ``F.lstm`` or ``F.gru`` (no biases): the sequence of h."""
    def run(xw, W):
        h = c = torch.zeros(xw.shape[1], W.shape[0], dtype=xw.dtype)
        hs = []
        for xt in xw:
            hw = h @ W
            if kind == "rnn":
                h = torch.tanh(xt + hw)
            elif kind == "lstm":
                i, f, g, o = (xt + hw).chunk(4, -1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                (xr, xz, xn), (hr, hz, hn) = xt.chunk(3, -1), hw.chunk(3, -1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            hs.append(h)
        return torch.stack(hs)
    return run


def recurrence_row(kind, gates):
    """A 3-step, 2-sequence run with H = 2 whose inputs hold edge values."""
    return Row(kind, lambda xw, W: getattr(F, kind)(xw, W)[0], torch_recurrence(kind),
               [sprinkled((3, 2, 2 * gates), gates), 0.5 * sprinkled((2, 2 * gates), 9)[:, :]])


class Row(NamedTuple):
    name: str  # the chainrule function (before any "[") or Variable operator it checks
    op: Callable  # chainrule call on Variables
    twin: Callable  # the same on torch tensors
    inputs: list  # arrays; floating ones get gradients
    order: int = 1  # 2: second gradients too (elementwise ops)


def unary(name, op, twin, order=2):
    return Row(name, op, twin, [EDGES], order)


SWEEP = [
    unary("neg", F.neg, torch and torch.neg),
    unary("exp", F.exp, torch and torch.exp),
    unary("log", F.log, torch and torch.log),
    unary("sqrt", F.sqrt, torch and torch.sqrt),
    unary("square", F.square, torch and torch.square),
    unary("sin", F.sin, torch and torch.sin),
    unary("cos", F.cos, torch and torch.cos),
    unary("tan", F.tan, torch and torch.tan),
    unary("tanh", F.tanh, torch and torch.tanh),
    unary("abs", F.abs, torch and torch.abs),
    unary("sigmoid", F.sigmoid, torch and torch.sigmoid),
    unary("relu", F.relu, torch and torch.relu),
    unary("leaky_relu", F.leaky_relu, lambda x: nnf.leaky_relu(x, 0.01)),
    unary("gelu", F.gelu, lambda x: nnf.gelu(x, approximate="tanh")),
    unary("silu", F.silu, lambda x: nnf.silu(x)),
    unary("elu", F.elu, lambda x: nnf.elu(x), order=1),  # second order at 0: see below
    unary("softplus", F.softplus, lambda x: nnf.softplus(x)),
    unary("softplus[beta=2, threshold=5]", lambda x: F.softplus(x, 2.0, 5.0),
          lambda x: nnf.softplus(x, 2.0, 5.0)),
    unary("hardtanh", F.hardtanh, lambda x: nnf.hardtanh(x)),
    unary("clip[-1, 1]", lambda x: F.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0)),
    unary("clip[0, None]", lambda x: F.clip(x, 0.0, None), lambda x: torch.clamp(x, 0.0, None)),
    unary("clip[1, 1]", lambda x: F.clip(x, 1.0, 1.0), lambda x: torch.clamp(x, 1.0, 1.0)),
    unary("dropout[p=0]", lambda x: F.dropout(x, 0.0), lambda x: nnf.dropout(x, 0.0)),
    unary("dropout[p=1]", lambda x: F.dropout(x, 1.0), lambda x: nnf.dropout(x, 1.0)),
    unary("-x", operator.neg, operator.neg),
    unary("x + 1", lambda x: x + 1, lambda x: x + 1),
    unary("1 - x", lambda x: 1 - x, lambda x: 1 - x),
    unary("x * 3", lambda x: x * 3, lambda x: x * 3),
    unary("x / 3", lambda x: x / 3, lambda x: x / 3),
    unary("2 / x", lambda x: 2 / x, lambda x: 2 / x),
    unary("x ** 2", lambda x: x**2, lambda x: x**2),
    unary("x ** 0", lambda x: x**0, lambda x: x**0),
    Row("x ** 0.5", lambda x: x**0.5, lambda x: x**0.5,  # not at -0.0, -inf: see below
        [np.delete(EDGES, [1, 3])], 2),
    unary("x ** -1", lambda x: x**-1, lambda x: x**-1),
    unary("2 ** x", lambda x: 2**x, lambda x: 2**x),
    Row("add", F.add, torch and torch.add, PAIRS, 2),
    Row("sub", F.sub, torch and torch.sub, PAIRS, 2),
    Row("mul", F.mul, torch and torch.mul, PAIRS, 2),
    Row("div", F.div, torch and torch.div, PAIRS, 2),
    Row("pow", F.pow, torch and torch.pow, PAIRS),
    Row("x ** y", operator.pow, operator.pow, PAIRS),
    Row("where", lambda a, b: F.where(PAIRS[0] > PAIRS[1], a, b),
        lambda a, b: torch.where(torch.tensor(PAIRS[0] > PAIRS[1]), a, b), PAIRS, 2),
    Row("mean_squared_error", F.mean_squared_error, lambda a, b: nnf.mse_loss(a, b), PAIRS),
    Row("mse_loss", lambda a, b: F.mse_loss(a, b, reduction="none"),
        lambda a, b: nnf.mse_loss(a, b, reduction="none"), PAIRS),
    Row("l1_loss", lambda a, b: F.l1_loss(a, b, reduction="none"),
        lambda a, b: nnf.l1_loss(a, b, reduction="none"), PAIRS),
    Row("huber_loss", lambda a, b: F.huber_loss(a, b, reduction="none"),
        lambda a, b: nnf.huber_loss(a, b, reduction="none"), PAIRS),
    Row("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.5),
        lambda a, b: nnf.smooth_l1_loss(a, b, reduction="none", beta=0.5), PAIRS),
    Row("kl_div", lambda x, t: F.kl_div(x, t, reduction="none"),
        lambda x, t: nnf.kl_div(x, t, reduction="none"),  # t = 0: see KNOWN_DIFFERENCES
        [EDGES[:-2], np.abs(EDGES[::-1][:-2])]),
    Row("binary_cross_entropy", lambda x: F.binary_cross_entropy(x, PROBS[::-1].copy(),
        reduction="none"), lambda x: nnf.binary_cross_entropy(
        x, torch.tensor(PROBS[::-1].copy()), reduction="none"), [PROBS]),
    Row("binary_cross_entropy_with_logits", lambda x: F.binary_cross_entropy_with_logits(
        x, TARGETS, reduction="none", pos_weight=3.0),
        lambda x: nnf.binary_cross_entropy_with_logits(
            x, torch.tensor(TARGETS), reduction="none", pos_weight=torch.tensor(3.0)),
        [np.array([inf, -inf, inf, -inf, inf, nan, 1e300, -1e300])]),
    Row("sum", lambda x: F.sum(x, axis=1), lambda x: x.sum(1), [ROWS]),
    Row("x.sum()", lambda x: x.sum(), lambda x: x.sum(), [ROWS]),
    Row("mean", lambda x: F.mean(x, axis=1), lambda x: x.mean(1), [ROWS]),
    Row("max", lambda x: F.max(x, axis=1), lambda x: torch.amax(x, 1), [ROWS]),
    Row("max[all]", F.max, lambda x: torch.amax(x), [ROWS[:2]]),
    Row("min", lambda x: F.min(x, axis=1), lambda x: torch.amin(x, 1), [ROWS]),
    Row("logsumexp", lambda x: F.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), [ROWS]),
    Row("softmax", lambda x: F.softmax(x, axis=1), lambda x: torch.softmax(x, 1), [ROWS]),
    Row("log_softmax", lambda x: F.log_softmax(x, axis=1), lambda x: torch.log_softmax(x, 1),
        [ROWS]),
    Row("cross_entropy", lambda x: F.cross_entropy(x, LABELS, reduction="none"),
        lambda x: nnf.cross_entropy(x, torch.tensor(LABELS), reduction="none"), [ROWS]),
    Row("cross_entropy[smoothed]", lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.1),
        lambda x: nnf.cross_entropy(x, torch.tensor(LABELS), label_smoothing=0.1), [ROWS]),
    Row("nll_loss", lambda x: F.nll_loss(x, LABELS, reduction="none"),
        lambda x: nnf.nll_loss(x, torch.tensor(LABELS), reduction="none"), [ROWS]),
    Row("scaled_dot_product_attention", lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True), lambda q, k, v: nnf.scaled_dot_product_attention(
        q, k, v, is_causal=True), [sprinkled((2, 3, 4)), sprinkled((2, 3, 4), 1),
                                   sprinkled((2, 3, 4), 2)]),
    Row("softmax_cross_entropy", lambda x: F.softmax_cross_entropy(x, LABELS),
        lambda x: nnf.cross_entropy(x, torch.tensor(LABELS)), [ROWS]),
    Row("sigmoid_cross_entropy", lambda x: F.sigmoid_cross_entropy(x, (ROWS > 1) * 1.0),
        lambda x: nnf.binary_cross_entropy_with_logits(x, torch.tensor((ROWS > 1) * 1.0)),
        [ROWS]),
    Row("sigmoid_cross_entropy[each]", lambda x: F.stack(
        [F.sigmoid_cross_entropy(x[i:i + 1], TARGETS[i:i + 1]) for i in range(len(TARGETS))]),
        lambda x: nnf.binary_cross_entropy_with_logits(x, torch.tensor(TARGETS), reduction="none"),
        [np.array([inf, -inf, inf, -inf, inf, nan, 1e300, -1e300])]),
    Row("softmax_cross_entropy[each]", lambda x: F.stack(
        [F.softmax_cross_entropy(x[i:i + 1], LABELS[i:i + 1]) for i in range(len(ROWS))]),
        lambda x: nnf.cross_entropy(x, torch.tensor(LABELS), reduction="none"), [ROWS]),
    Row("sigmoid_cross_entropy[t=1/2]", lambda x: F.sigmoid_cross_entropy(x, 0.5 + 0 * EDGES),
        lambda x: nnf.binary_cross_entropy_with_logits(x, 0.5 + 0 * x.detach()), [EDGES]),
    Row("layer_norm", lambda x, g, b: F.layer_norm(x, g, b),
        lambda x, g, b: nnf.layer_norm(x, (4,), g, b), [ROWS[:9], np.ones(4), np.zeros(4)]),
    Row("batch_norm", lambda x, g, b: F.batch_norm(x, g, b),
        lambda x, g, b: nnf.batch_norm(x, None, None, g, b, training=True),
        [ROWS[:9].T, np.ones(9), np.zeros(9)]),
    Row("matmul", F.matmul, lambda a, b: a @ b, [sprinkled((3, 4)), sprinkled((4, 2), 1)]),
    Row("x @ y", operator.matmul, operator.matmul, [sprinkled((3, 4)), sprinkled((4, 2), 1)]),
    Row("linear", F.linear, lambda x, W, b: nnf.linear(x, W.T, b),
        [sprinkled((3, 4)), sprinkled((4, 2), 1), np.array([inf, 0.0])]),
    Row("conv2d", lambda x, W: F.conv2d(x, W, None, 1, 1),
        lambda x, W: nnf.conv2d(x, W, None, 1, 1), [IMAGE, KERNEL]),
    Row("conv_transpose2d", lambda x, W: F.conv_transpose2d(x, W, None, 2, 1),
        lambda x, W: nnf.conv_transpose2d(x, W, None, 2, 1), [IMAGE, KERNEL[:2]]),
    Row("im2col", lambda x: F.im2col(x, 3, 1, 1, to_matrix=False),
        lambda x: nnf.unfold(x, 3, padding=1).reshape(2, 2, 3, 3, 4, 4), [IMAGE]),
    Row("col2im", lambda c: F.col2im(c, (2, 2, 4, 4), 3, 1, 1, to_matrix=False),
        lambda c: nnf.fold(c.reshape(2, 18, 16), (4, 4), 3, padding=1),
        [sprinkled((2, 2, 3, 3, 4, 4))]),
    Row("max_pool2d", lambda x: F.max_pool2d(x, 2, 1, 1), lambda x: nnf.max_pool2d(x, 2, 1, 1),
        [IMAGE]),
    Row("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: nnf.avg_pool2d(x, 3, 1, 1),
        [IMAGE]),
    Row("embedding", lambda W: F.embedding(np.array([[0, 2], [2, 2]]), W),
        lambda W: nnf.embedding(torch.tensor([[0, 2], [2, 2]]), W), [sprinkled((3, 4))]),
    Row("get_item", lambda x: F.get_item(x, np.array([4, 4, 2])), lambda x: x[[4, 4, 2]],
        [EDGES]),
    Row("x[1:5]", lambda x: x[1:5], lambda x: x[1:5], [EDGES]),
    Row("concat", lambda a, b: F.concat([a, b], axis=0), lambda a, b: torch.cat([a, b]),
        [EDGES, EDGES[::-1].copy()]),
    Row("stack", lambda a, b: F.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], 1),
        [EDGES, EDGES[::-1].copy()]),
    Row("cat", lambda a, b: F.cat([a, b], dim=0), lambda a, b: torch.cat([a, b]),
        [EDGES, EDGES[::-1].copy()]),
    Row("unsqueeze", lambda x: F.unsqueeze(x, 1), lambda x: x.unsqueeze(1), [EDGES]),
    Row("argmax", lambda x: F.argmax(x, dim=1), lambda x: torch.argmax(x, 1), [ROWS]),
    Row("argmin", lambda x: F.argmin(x, dim=1), lambda x: torch.argmin(x, 1), [ROWS]),
    Row("x < y", operator.lt, operator.lt, PAIRS),
    Row("x == y", operator.eq, operator.eq, PAIRS),
    Row("chunk", lambda x: F.chunk(x, 3)[1], lambda x: torch.chunk(x, 3)[1], [EDGES]),
    Row("split", lambda x: F.split(x, 4)[3], lambda x: torch.split(x, 4)[3], [EDGES]),
    Row("pad", lambda x: F.pad(x, (1, 2), value=-inf), lambda x: nnf.pad(x, (1, 2), value=-inf),
        [EDGES]),
    Row("cumsum", lambda x: F.cumsum(x, dim=1), lambda x: torch.cumsum(x, 1), [ROWS]),
    Row("einsum", lambda a, b: F.einsum("ij,ij->i", a, b),
        lambda a, b: torch.einsum("ij,ij->i", a, b), [ROWS, ROWS[::-1].copy()]),
    Row("var", lambda x: F.var(x, dim=1), lambda x: torch.var(x, 1),  # ±inf rows: see below
        [np.delete(ROWS, [2, 3, 4], axis=0)]),
    Row("std", lambda x: F.std(x, dim=1), lambda x: torch.std(x, 1), [ROWS]),
    Row("vector_norm", lambda x: F.vector_norm(x, axis=1),
        lambda x: torch.linalg.vector_norm(x, dim=1), [ROWS]),
    Row("vector_norm[inf]", lambda x: F.vector_norm(x, inf, axis=1),  # NaN rows: see below
        lambda x: torch.linalg.vector_norm(x, inf, dim=1), [np.delete(ROWS, [7, 8], axis=0)]),
    Row("normalize", lambda x: F.normalize(x, dim=1), lambda x: nnf.normalize(x, dim=1), [ROWS]),
    Row("cosine_similarity", lambda a, b: F.cosine_similarity(a, b, dim=1),
        lambda a, b: nnf.cosine_similarity(a, b, dim=1), [ROWS, ROWS[::-1].copy()]),
    Row("reshape", lambda x: F.reshape(x, (3, 5)), lambda x: x.reshape(3, 5), [EDGES]),
    Row("transpose", F.transpose, lambda x: x.permute(1, 0), [ROWS]),
    Row("x.T", lambda x: x.T, lambda x: x.T, [ROWS]),
    Row("broadcast_to", lambda x: F.broadcast_to(x, (2, 15)), lambda x: x.expand(2, 15),
        [EDGES]),
    Row("sum_to", lambda x: F.sum_to(x, (1, 4)), lambda x: x.sum(0, keepdim=True), [ROWS]),
    Row("expand_dims", lambda x: F.expand_dims(x, 0), lambda x: x.unsqueeze(0), [EDGES]),
    Row("squeeze", lambda x: F.squeeze(x), lambda x: x.squeeze(), [EDGES[None]]),
    Row("flatten", F.flatten, lambda x: x.flatten(1), [IMAGE]),
]
SWEEP += [recurrence_row("rnn", 1), recurrence_row("lstm", 4), recurrence_row("gru", 3)]

EMPTY = [  # empty arrays, where torch takes them
    Row("sum[empty]", F.sum, lambda x: x.sum(), [np.zeros((0, 3))]),
    Row("mean[empty]", F.mean, lambda x: x.mean(), [np.zeros((0, 3))]),
    Row("mean[empty axis 0]", lambda x: F.mean(x, axis=0), lambda x: x.mean(0),
        [np.zeros((0, 3))]),
    Row("max[empty rows]", lambda x: F.max(x, axis=1), lambda x: torch.amax(x, 1),
        [np.zeros((0, 3))]),
    Row("logsumexp[empty axis]", lambda x: F.logsumexp(x, axis=0),
        lambda x: torch.logsumexp(x, 0), [np.zeros((0, 3))]),
    Row("softmax[empty axis]", F.softmax, lambda x: torch.softmax(x, 1), [np.zeros((3, 0))]),
    Row("log_softmax[empty axis]", F.log_softmax, lambda x: torch.log_softmax(x, 1),
        [np.zeros((3, 0))]),
    Row("exp[empty]", F.exp, torch and torch.exp, [np.zeros(0)]),
    Row("matmul[empty inner]", F.matmul, lambda a, b: a @ b, [np.zeros((2, 0)), np.zeros((0, 3))]),
    Row("linear[empty batch]", F.linear, lambda x, W: nnf.linear(x, W.T),
        [np.zeros((0, 2)), np.ones((2, 3))]),
    Row("mean_squared_error[empty]", F.mean_squared_error, lambda a, b: nnf.mse_loss(a, b),
        [np.zeros(0), np.zeros(0)]),
    Row("softmax_cross_entropy[empty]", lambda x: F.softmax_cross_entropy(x, np.zeros(0, int)),
        lambda x: nnf.cross_entropy(x, torch.zeros(0, dtype=torch.long)), [np.zeros((0, 3))]),
    Row("sigmoid_cross_entropy[empty]", lambda x: F.sigmoid_cross_entropy(x, np.zeros((0, 3))),
        lambda x: nnf.binary_cross_entropy_with_logits(x, torch.zeros((0, 3), dtype=x.dtype)),
        [np.zeros((0, 3))]),
    Row("concat[empty]", lambda a, b: F.concat([a, b]), lambda a, b: torch.cat([a, b]),
        [np.zeros((0, 2)), np.ones((1, 2))]),
    Row("stack[empty]", lambda a, b: F.stack([a, b]), lambda a, b: torch.stack([a, b]),
        [np.zeros(0), np.zeros(0)]),
    Row("x[2:2]", lambda x: x[2:2], lambda x: x[2:2], [np.ones(3)]),
    Row("layer_norm[empty batch]", lambda x, g, b: F.layer_norm(x, g, b),
        lambda x, g, b: nnf.layer_norm(x, (3,), g, b), [np.zeros((0, 3)), np.ones(3), np.ones(3)]),
    Row("batch_norm[empty batch]", lambda x, g, b: F.batch_norm(x, g, b),
        lambda x, g, b: nnf.batch_norm(x, None, None, g, b, training=True),
        [np.zeros((0, 3)), np.ones(3), np.ones(3)]),
    Row("conv2d[empty batch]", lambda x, W, b: F.conv2d(x, W, b, 1, 1),
        lambda x, W, b: nnf.conv2d(x, W, b, 1, 1), [np.zeros((0, 2, 4, 4)), KERNEL, np.ones(3)]),
    Row("conv2d[empty batch, stride 2]", lambda x, W: F.conv2d(x, W, None, 2, 1),
        lambda x, W: nnf.conv2d(x, W, None, 2, 1), [np.zeros((0, 2, 4, 4)), KERNEL]),
    Row("conv_transpose2d[empty batch]", lambda x, W: F.conv_transpose2d(x, W, None, 1, 1),
        lambda x, W: nnf.conv_transpose2d(x, W, None, 1, 1), [np.zeros((0, 3, 4, 4)), KERNEL]),
    Row("max_pool2d[empty batch]", lambda x: F.max_pool2d(x, 2), lambda x: nnf.max_pool2d(x, 2),
        [np.zeros((0, 2, 4, 4))]),
    Row("avg_pool2d[empty batch]", lambda x: F.avg_pool2d(x, 2), lambda x: nnf.avg_pool2d(x, 2),
        [np.zeros((0, 2, 4, 4))]),
    Row("embedding[no ids]", lambda W: F.embedding(np.zeros(0, int), W),
        lambda W: nnf.embedding(torch.zeros(0, dtype=torch.long), W), [np.ones((3, 2))]),
    Row("relu[empty]", F.relu, torch and torch.relu, [np.zeros((0, 3))]),
]

WHOLE = [  # integer and bool inputs: forward values (no gradients)
    Row(f"{name}[{kind}]", op, twin, [values])
    for kind, values in (("int", INTS), ("bool", BOOLS))
    for name, op, twin in [
        ("exp", F.exp, torch and torch.exp), ("log", F.log, torch and torch.log),
        ("sqrt", F.sqrt, torch and torch.sqrt), ("sigmoid", F.sigmoid, torch and torch.sigmoid),
        ("tanh", F.tanh, torch and torch.tanh), ("sum", F.sum, torch and torch.sum),
        ("max", F.max, torch and torch.amax), ("min", F.min, torch and torch.amin),
        ("logsumexp", F.logsumexp, lambda x: torch.logsumexp(x, 0)),
        ("x * 2.5", lambda x: x * 2.5, lambda x: x * 2.5),
        ("x / 2", lambda x: x / 2, lambda x: x / 2), ("2 / x", lambda x: 2 / x, lambda x: 2 / x),
        ("x ** 2", lambda x: x**2, lambda x: x**2),
        ("get_item", lambda x: F.get_item(x, [0, 0]), lambda x: x[[0, 0]]),
        ("concat", lambda x: F.concat([x, x]), lambda x: torch.cat([x, x])),
        ("reshape", lambda x: F.reshape(x, (2, -1)), lambda x: x.reshape(2, -1)),
    ]
] + [Row(f"{name}[int]", op, twin, [INTS]) for name, op, twin in [
    ("neg", F.neg, torch and torch.neg), ("abs", F.abs, torch and torch.abs),
    ("relu", F.relu, torch and torch.relu), ("square", F.square, torch and torch.square),
    ("clip", lambda x: F.clip(x, -1, 1), lambda x: torch.clamp(x, -1, 1)),
    ("x + 1", lambda x: x + 1, lambda x: x + 1), ("x - 1", lambda x: x - 1, lambda x: x - 1),
    ("matmul", lambda x: F.matmul(x[None], x[:, None]), lambda x: x[None] @ x[:, None]),
    ("one_hot", lambda t: F.one_hot(F.abs(t), 6), lambda t: nnf.one_hot(t.abs(), 6)),
]]

KNOWN_DIFFERENCES = {
    # name: (chainrule call, torch call, input, chainrule's value, torch's value, why)
    "signed zeros": (
        F.relu, torch and torch.relu, np.array([-0.0]), 0.0, -0.0,
        "The sweep compares values, not the sign of a zero result: NumPy's maximum gives "
        "relu(-0.0) = +0.0 where torch keeps -0.0 (and max over [0.0, -0.0] differs the other "
        "way). The two zeros are equal under IEEE comparison and no rule divides by them."),
    "integer promotion": (
        F.exp, torch and torch.exp, INTS[:1], np.exp(np.float64(-3)), np.exp(np.float32(-3)),
        "Integer and bool arrays promote by NumPy's rules: exp of int64 is float64 (torch: "
        "float32), exp of bool is float16 (NumPy's smallest exact float), x ** 2 of bool is "
        "int8, and mean, softmax, gelu or leaky_relu of an int array compute in float64 where "
        "torch refuses. chainrule's arrays are NumPy's; values agree to float32 precision."),
    "x ** 0.5 at -0.0": (
        lambda x: cr.grad(x**0.5, [x])[0],
        lambda x: torch.autograd.grad(x.requires_grad_() ** 0.5, [x])[0], np.array([-0.0]),
        inf, -inf,
        "torch differentiates x ** 0.5 as sqrt, 1 / (2 √x), and √-0.0 is -0.0, so its "
        "gradient at -0.0 is -inf (and NaN at -inf); chainrule's Pow uses the general rule "
        "0.5 · x^-0.5, which is +inf at -0.0 (and 0 at -inf, where x ** 0.5 is +inf). F.sqrt "
        "itself matches torch.sqrt there."),
    "kl_div's target gradient at t = 0": (
        lambda t: cr.grad(F.kl_div(cr.Variable(np.array([0.5])), t, reduction="none"), [t])[0],
        lambda t: torch.autograd.grad(nnf.kl_div(torch.tensor([0.5], dtype=t.dtype),
                                                 t.requires_grad_(), reduction="none"), [t],
                                      torch.ones(1, dtype=t.dtype))[0],
        np.array([0.0]), -0.5, nan,
        "d/dt (t log t) = log t + 1 is unbounded at t = 0. torch's xlogy gives NaN there; "
        "chainrule's kl_div takes t log t as its limit 0 and differentiates the rest, -input. "
        "Targets are constants in training, so only a gradient taken on purpose meets this."),
    "elu'' at 0": (
        lambda x: cr.grad(cr.grad(F.elu(x), [x], create_graph=True)[0], [x])[0],
        lambda x: torch.autograd.grad(torch.autograd.grad(
            nnf.elu(x.requires_grad_()), [x], create_graph=True)[0], [x])[0],
        np.array([0.0]), 1.0, 0.0,
        "At the kink x = 0 both take elu'(0) = α from the left branch, but torch's double "
        "backward then switches to the right branch (elu''(0) = 0) while chainrule stays on "
        "the left, α e⁰ = α. Either is a one-sided derivative; chainrule's is consistent."),
    "var's gradient beside an infinity": (
        lambda x: cr.grad(F.var(x, dim=1), [x], grad_outputs=[np.ones(1)])[0][:, 1],
        lambda x: torch.autograd.grad(torch.var(x.requires_grad_(), 1), [x],
                                      torch.ones(1, dtype=x.dtype))[0][:, 1],
        ROWS[2:3], nan, -inf,
        "var of [inf, 1, 2, 3] is NaN in both. torch's closed-form backward 2 (x - x̄)/(n - 1) "
        "gives -inf at the finite entries; chainrule's var is composed, and its backward also "
        "carries the mean's term, Σ (x - x̄) = 0 in exact arithmetic but inf - inf = NaN "
        "here, so every entry is NaN. Either way the gradient has no usable value."),
    "vector_norm(inf)'s gradient at NaN": (
        lambda x: cr.grad(F.vector_norm(x, inf, axis=1), [x], grad_outputs=[np.ones(1)])[0],
        lambda x: torch.autograd.grad(torch.linalg.vector_norm(x.requires_grad_(), inf, dim=1),
                                      [x], torch.ones(1, dtype=x.dtype))[0],
        ROWS[7:8], nan, 0.0,
        "The ∞-norm of [NaN, 1, 2, 3] is NaN and no entry equals it. chainrule's is "
        "max(|x|), whose gradient splits among the entries equal to the maximum: none, "
        "0 / 0 = NaN, as torch.amax's own gradient; torch's vector_norm backward gives 0."),
    "layer_norm overflow": (
        lambda x: F.layer_norm(x, np.ones(4), np.zeros(4)),
        lambda x: nnf.layer_norm(x, (4,)), ROWS[9:10], 0.0, nan,
        "A variance beyond float64's range (inputs near 1e300) is inf: chainrule's x̂ = "
        "(x - μ) / √σ² gives 0 and torch's fused kernel NaN. Both have lost the answer; "
        "normalising such inputs needs rescaling first."),
}
