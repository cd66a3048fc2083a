"""Every operation under vmap equals a loop over the batch, values and gradients (a table).

Each row names an op, a function of one sample's Variables and the samples' shapes (an int
dtype marks a target). The test batches every float argument (and every combination of
batched and unbatched for two-argument rows), runs vmap and the loop, and compares the
outputs and the gradients of a weighted sum of them. No row may fall back to the loop.
"""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule.core import elementwise as E
from chainrule.core import indexing, ops
from chainrule.core.function import Function
from chainrule.func import vmap
from chainrule.func.batching import rule_for
from chainrule.functions.activation import LeakyReluGrad
from chainrule.functions.conv import Conv2dGradW

pytestmark = pytest.mark.filterwarnings("ignore:vmap.* with .* runs once per sample")
B = 3
IDS = ("ints", 5)  # an int argument: class indices in [0, 5)


def positive(shape):
    return ("positive", shape)


ROWS = {
    # core: elementwise and broadcasting
    "add": (lambda a, b: a + b, [(3,), (2, 3)]),
    "sub": (lambda a, b: a - b, [(2, 3), (3,)]),
    "mul": (lambda a, b: a * b, [(2, 1), (2, 3)]),
    "div": (lambda a, b: a / b, [(2, 3), positive((3,))]),
    "pow": (lambda a, b: a ** b, [positive((2, 3)), (3,)]),
    "neg": (lambda a: -a, [(2, 3)]),
    "log": (lambda a: F.log(a), [positive((4,))]),
    "exp": (lambda a: F.exp(a), [(2, 3)]),
    "sqrt": (lambda a: F.sqrt(a), [positive((2, 3))]),
    "abs": (lambda a: F.abs(a), [(2, 3)]),
    "tanh": (lambda a: F.tanh(a), [(2, 3)]),
    "sigmoid": (lambda a: F.sigmoid(a), [(2, 3)]),
    "relu": (lambda a: F.relu(a), [(2, 3)]),
    "clip": (lambda a: F.clip(a, -0.5, 0.5), [(2, 3)]),
    "cast": (lambda a: ops.cast(a, np.float32) * 1.0, [(3,)]),
    "copy": (lambda a: a.clone(), [(2, 3)]),
    "tanh_grad": (lambda g, y: E.TanhGrad()(g, y), [(2, 3), (3,)]),
    "sigmoid_grad": (lambda g, y: E.SigmoidGrad()(g, y), [(3,), (2, 3)]),
    "relu_grad": (lambda g, y: E.ReluGrad()(g, F.relu(y)), [(2, 3), (2, 3)]),
    "leaky_relu_grad": (lambda g, x: LeakyReluGrad(0.1)(g, x), [(2, 3), (2, 3)]),
    "scalar_ops": (lambda a: (2 - a) * 3 + 1 - a / 2 + a ** 2, [(2, 3)]),
    "array_constant": (lambda a: a * np.arange(6.0).reshape(2, 3) - np.ones((4, 1, 1)), [(3,)]),
    "where": (lambda a, b: F.where(np.array([True, False, True]), a, b), [(2, 3), (3,)]),
    "where_batched_condition": (lambda a, b: F.where(a > 0, a, b), [(2, 3), (3,)]),
    # core: reductions, the axis shifted
    "sum_all": (lambda a: a.sum(), [(2, 3)]),
    "sum_axis": (lambda a: F.sum(a, axis=-1, keepdims=True), [(2, 3)]),
    "mean": (lambda a: F.mean(a, axis=0), [(2, 3)]),
    "max": (lambda a: F.max(a, axis=1), [(2, 3)]),
    "min": (lambda a: F.min(a), [(2, 3)]),
    "max_torch_style": (
        lambda a: F.max(a, dim=1)[0][:, None] * a.max(dim=0, keepdim=True).indices, [(2, 3)]),
    "argmax": (lambda a: a * a.argmax(axis=1, keepdims=True) + F.argmin(a), [(2, 3)]),
    "softmax": (lambda a: F.softmax(a, axis=0), [(2, 3)]),
    "log_softmax": (lambda a: F.log_softmax(a), [(2, 3)]),
    "logsumexp": (lambda a: F.logsumexp(a, axis=1), [(2, 3)]),
    "cumsum": (lambda a: F.cumsum(a, axis=0), [(2, 3)]),
    "cumsum_flat": (lambda a: F.cumsum(a), [(2, 3)]),
    "std": (lambda a: F.std(a, axis=1), [(2, 3)]),
    "vector_norm": (lambda a: F.vector_norm(a, ord=3, axis=-1), [(2, 3)]),
    "normalize": (lambda a: F.normalize(a, dim=0), [(2, 3)]),
    # core: shapes, the batch prepended
    "reshape": (lambda a: a.reshape(-1, 2), [(2, 3)]),
    "transpose": (lambda a: a.T, [(2, 3)]),
    "permute": (lambda a: a.transpose(1, 0, 2), [(2, 3, 2)]),
    "broadcast_to": (lambda a: F.broadcast_to(a, (4, 2, 3)), [(2, 1)]),
    "sum_to": (lambda a: F.sum_to(a, (3,)), [(2, 3)]),
    "get_item": (lambda a: a[1:, ::-1][0], [(3, 4)]),
    "get_item_array": (lambda a: a[np.array([2, 0, 2])], [(3, 2)]),
    "get_item_split": (lambda a: a[np.array([0, 1]), :, np.array([1, 0])], [(2, 3, 2)]),
    "get_item_grad": (lambda g: indexing.GetItemGrad((slice(1, None),), (3, 2))(g), [(2, 2)]),
    "flatten_squeeze": (lambda a: F.squeeze(F.unsqueeze(F.flatten(a, 0), 1), 1), [(2, 3)]),
    "expand": (lambda a: a.expand(4, -1), [(1, 3)]),
    "concat": (lambda a, b: F.concat([a, b], axis=1), [(2, 3), (2, 1)]),
    "stack": (lambda a, b: F.stack([a, b], axis=-1), [(2, 3), (2, 3)]),
    "split": (lambda a: F.split(a, [1, 2], dim=1)[1] * 2, [(2, 3)]),
    "pad": (lambda a: F.pad(a, (1, 2)), [(2, 3)]),
    # matmul and linear algebra
    "vec_mat": (lambda a, w: a @ w, [(3,), (3, 4)]),
    "mat_vec": (lambda w, a: w @ a, [(4, 3), (3,)]),
    "mat_mat": (lambda a, w: a @ w, [(2, 3), (3, 4)]),
    "vec_vec": (lambda a, b: a @ b, [(3,), (3,)]),
    "stack_mat": (lambda a, w: F.matmul(a, w), [(2, 2, 3), (3, 4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(2, 3), (3, 4), (4,)]),
    "linear_row": (lambda x, w, b: F.linear(x, w, b), [(1, 3), (3, 4), (4,)]),
    "einsum": (lambda a, b: F.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    # activations and math
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2), [(2, 3)]),
    "gelu": (lambda a: F.gelu(a), [(2, 3)]),
    "silu": (lambda a: F.silu(a), [(2, 3)]),
    "elu": (lambda a: F.elu(a), [(2, 3)]),
    "softplus": (lambda a: F.softplus(a), [(2, 3)]),
    "hardtanh": (lambda a: F.hardtanh(a), [(2, 3)]),
    "square": (lambda a: F.square(a), [(2, 3)]),
    "sin_cos_tan": (lambda a: F.sin(a) + F.cos(a) + F.tan(a * 0.3), [(2, 3)]),
    # losses
    "cross_entropy": (lambda x, t: F.cross_entropy(x, t), [(4, 5), IDS + ((4,),)]),
    "cross_entropy_none": (lambda x, t: F.cross_entropy(x, t, reduction="none"),
                           [(4, 5), IDS + ((4,),)]),
    "cross_entropy_weighted": (
        lambda x, t: F.cross_entropy(x, t, weight=np.arange(1.0, 6.0), ignore_index=0),
        [(4, 5), IDS + ((4,),)]),
    "cross_entropy_probs": (lambda x, p: F.cross_entropy(x, F.softmax(p)), [(4, 5), (4, 5)]),
    "cross_entropy_one": (lambda x, t: F.cross_entropy(x, t), [(5,), IDS + ((),)]),
    "nll_loss": (lambda x, t: F.nll_loss(F.log_softmax(x), t, reduction="sum"),
                 [(4, 5), IDS + ((4,),)]),
    "softmax_cross_entropy": (lambda x, t: F.softmax_cross_entropy(x, t),
                              [(4, 5), IDS + ((4,),)]),
    "class_loss_direct": (lambda x: F.cross_entropy(x, np.array([1, 0, 4, 2])), [(4, 5)]),
    "binary_cross_entropy": (lambda x, t: F.binary_cross_entropy(F.sigmoid(x), F.sigmoid(t)),
                             [(2, 3), (2, 3)]),
    "bce_with_logits": (lambda x, t: F.binary_cross_entropy_with_logits(
        x, F.sigmoid(t), reduction="sum", pos_weight=np.array([1.0, 2.0, 3.0])),
        [(2, 3), (2, 3)]),
    "sigmoid_cross_entropy": (lambda x, t: F.sigmoid_cross_entropy(x, F.sigmoid(t)),
                              [(2, 3), (2, 3)]),
    "bce_direct_target": (lambda x: F.binary_cross_entropy(F.sigmoid(x), np.full((2, 3), 0.3)),
                          [(2, 3)]),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), [(2, 3), (2, 3)]),
    "huber_loss": (lambda a, b: F.huber_loss(a, b, reduction="none"), [(2, 3), (2, 3)]),
    "kl_div": (lambda a, b: F.kl_div(F.log_softmax(a), F.softmax(b)), [(2, 3), (2, 3)]),
    # normalisation, images, sequences, lookups
    "layer_norm": (lambda x, g, b: F.layer_norm(x, g, b), [(2, 3), (3,), (3,)]),
    "batch_norm": (lambda x, g, b: F.batch_norm(x, g, b), [(4, 3), (3,), (3,)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=1, pad=1), [(2, 2, 4, 4), (3, 2, 3, 3),
                                                                      (3,)]),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2),
                         [(2, 2, 3, 3), (2, 3, 2, 2)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [(2, 2, 4, 4)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, pad=1), [(2, 2, 4, 4)]),
    "im2col_col2im": (lambda x: F.col2im(F.im2col(x, 2) * 2, (2, 2, 3, 3), 2),
                      [(2, 2, 3, 3)]),
    "im2col_tensor": (lambda x: F.im2col(x, 2, to_matrix=False), [(2, 2, 3, 3)]),
    "embedding": (lambda w: F.embedding(np.array([[0, 3], [3, 1]]), w), [(4, 2)]),
    "embedding_ids": (lambda t, w: F.embedding(t, w), [IDS + ((2, 3),), (5, 2)]),
    "one_hot": (lambda t, x: F.one_hot(t, 5) * x, [IDS + ((4,),), (4, 5)]),
    "rnn": (lambda xw, w: F.rnn(xw, w)[0], [(3, 2, 4), (4, 4)]),
    "lstm": (lambda xw, w: F.lstm(xw, w, time_axis=1)[0], [(2, 3, 8), (2, 8)]),
    "gru_step": (lambda xw, w, h: F.gru(xw, w, h=h)[0], [(2, 6), (2, 6), (2, 2)]),
}


def sample_array(rng, spec, batch=None):
    """A random array for ``spec`` with ``batch`` rows in front (None: one sample)."""
    lead = () if batch is None else (batch,)
    if spec and spec[0] == "ints":
        return rng.integers(0, spec[1], lead + tuple(spec[2]))
    if spec and spec[0] == "positive":
        return rng.uniform(0.5, 2.0, lead + tuple(spec[1]))
    return rng.standard_normal(lead + tuple(spec))


def batchings(specs):
    """in_dims to try: all batched; for several float arguments, each one alone too."""
    yield tuple(0 for _ in specs)
    if len(specs) > 1:
        for i in range(len(specs)):
            yield tuple(0 if j == i else None for j in range(len(specs)))


def cases():
    return list(_cases())


def _cases():
    for name, (fn, specs) in ROWS.items():
        for in_dims in batchings(specs):
            yield pytest.param(fn, specs, in_dims, id=f"{name}-{in_dims}")


@pytest.mark.parametrize("fn, specs, in_dims", cases())
def test_vmap_equals_a_loop_over_the_batch(fn, specs, in_dims):
    rng = np.random.default_rng(0)
    arrays = [sample_array(rng, s, None if d is None else B) for s, d in zip(specs, in_dims)]
    floats = [a.dtype.kind == "f" for a in arrays]

    def variables():
        return [cr.Variable(a.copy(), requires_grad=f) for a, f in zip(arrays, floats)]

    xs = variables()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no batching rule.*")
        out = vmap(fn, in_dims=in_dims)(*xs)
    loop_xs = variables()
    rows = [fn(*[x[i] if d is not None else x for x, d in zip(loop_xs, in_dims)])
            for i in range(B)]
    expected = np.stack([r.data for r in rows])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-9, atol=1e-12)

    weights = rng.standard_normal(expected.shape)
    wanted = [x for x in xs if x.requires_grad]
    if not wanted or out.dtype.kind != "f" or out.creator is None:
        return
    grads = cr.grad((out * weights).sum(), wanted, allow_unused=True)
    loop_total = sum((r * weights[i]).sum() for i, r in enumerate(rows))
    loop_grads = cr.grad(loop_total, [x for x in loop_xs if x.requires_grad], allow_unused=True)
    for g, h in zip(grads, loop_grads):
        if h is None:
            assert g is None or not np.any(g.data)
            continue
        np.testing.assert_allclose(g.data, h.data, rtol=1e-8, atol=1e-10)


def function_classes():
    import chainrule.functions  # noqa: F401 -- every op family loaded

    found, stack = [], [Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith(("chainrule.core", "chainrule.functions")):
                found.append(sub)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


@pytest.mark.parametrize("cls", function_classes(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_function_has_a_batching_rule(cls):
    assert rule_for(cls) is not None, f"{cls.__name__} has no batching rule"


def test_a_kernel_gradient_is_per_sample():
    """Conv2dGradW's rule: one gradient of the kernel per sample, not their sum."""
    rng = np.random.default_rng(1)
    x, gy = rng.standard_normal((B, 2, 2, 4, 4)), rng.standard_normal((B, 2, 3, 2, 2))
    out = vmap(lambda x, gy: Conv2dGradW((3, 3), (1, 1), (0, 0))(x, gy))(
        cr.Variable(x), cr.Variable(gy))
    for i in range(B):
        one = Conv2dGradW((3, 3), (1, 1), (0, 0))(cr.Variable(x[i]), cr.Variable(gy[i]))
        np.testing.assert_allclose(out.data[i], one.data, rtol=1e-10)
