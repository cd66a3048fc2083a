"""vmap itself: in_dims and out_dims, nesting, what a function sees inside, errors, and
per-sample gradients (against a loop, and against torch.func where torch is installed)."""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import Function
from chainrule.func import grad, vmap


def mlp_loss(params, x, t):
    h = x[None]
    for i in range(0, len(params) - 2, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    return F.softmax_cross_entropy(F.linear(h, params[-2], params[-1]), t[None])


def mlp(rng, sizes=(6, 5, 4, 3)):
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [cr.Variable(rng.standard_normal((n_in, n_out))),
                   cr.Variable(rng.standard_normal(n_out))]
    return params


def test_per_sample_gradients_equal_a_loop_of_single_sample_gradients():
    rng = np.random.default_rng(0)
    params = mlp(rng)
    x, t = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    batched = vmap(grad(mlp_loss), in_dims=(None, 0, 0))(params, x, t)
    for i in range(7):
        one = grad(mlp_loss)(params, cr.Variable(x[i]), t[i])
        for g, h in zip(batched, one):
            np.testing.assert_allclose(g.data[i], h.data, rtol=1e-10, atol=1e-12)
    assert [g.shape for g in batched] == [(7,) + p.shape for p in params]


@pytest.mark.parametrize("dtype, threads", [(np.float64, 1), (np.float32, 1), (np.float32, 3)])
def test_per_sample_gradients_in_chunks_and_over_threads_equal_the_loop(dtype, threads,
                                                                        monkeypatch):
    """The weight gradients written a sample or two per einsum (batch_rules.CHUNK_BYTES),
    the samples cut over threads, equal the loop's; float32 stays float32."""
    from chainrule import backend_threads
    from chainrule.func import batch_rules

    rng = np.random.default_rng(2)
    params = [cr.Variable(p.data.astype(dtype)) for p in mlp(rng, (9, 8, 7, 3))]
    x, t = rng.standard_normal((11, 9)).astype(dtype), rng.integers(0, 3, 11)
    monkeypatch.setattr(batch_rules, "CHUNK_BYTES", 2 * 9 * 8 * np.dtype(dtype).itemsize)
    monkeypatch.setattr(backend_threads, "MIN_BYTES", 0)
    before = backend_threads.threads()
    try:
        backend_threads.set_threads(threads)
        batched = vmap(grad(mlp_loss), in_dims=(None, 0, 0))(params, x, t)
    finally:
        backend_threads.set_threads(before)
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-5,
                                                                            "atol": 1e-6}
    for i in range(11):
        one = grad(mlp_loss)(params, cr.Variable(x[i]), t[i])
        for g, h in zip(batched, one):
            assert g.dtype == dtype
            np.testing.assert_allclose(g.data[i], h.data, **tolerance)


def torch_mlp_loss(torch):
    def loss(ps, x, t):
        h = x[None]
        for i in range(0, len(ps) - 2, 2):
            h = torch.relu(h @ ps[i] + ps[i + 1])
        return torch.nn.functional.cross_entropy(h @ ps[-2] + ps[-1], t[None])

    return loss


@pytest.mark.parametrize("chunk_bytes", [None, 2 * 9 * 8 * 8])
def test_per_sample_gradients_match_torch_func(chunk_bytes, monkeypatch):
    """Also with the weight gradients written two samples per einsum (CHUNK_BYTES)."""
    torch = pytest.importorskip("torch")
    from chainrule.func import batch_rules

    if chunk_bytes:
        monkeypatch.setattr(batch_rules, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(1)
    params = mlp(rng, (9, 8, 7, 3))
    x, t = rng.standard_normal((5, 9)), rng.integers(0, 3, 5)
    ours = vmap(grad(mlp_loss), in_dims=(None, 0, 0))(params, x, t)
    theirs = torch.func.vmap(torch.func.grad(torch_mlp_loss(torch)), in_dims=(None, 0, 0))(
        [torch.tensor(p.data) for p in params], torch.tensor(x), torch.tensor(t))
    for g, h in zip(ours, theirs):
        np.testing.assert_allclose(g.data, h.numpy(), rtol=1e-10, atol=1e-12)


def test_in_dims_choose_the_batch_axis_and_out_dims_place_it():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    out = vmap(lambda u, v: u * v.sum(), in_dims=(1, 0), out_dims=1)(cr.Variable(a),
                                                                       cr.Variable(b))
    expected = np.stack([a[:, i] * b[i].sum() for i in range(4)], axis=1)
    np.testing.assert_allclose(out.data, expected)
    assert type(out) is cr.Variable


def test_nested_in_dims_outputs_and_unbatched_outputs():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3, 2)), rng.standard_normal(2)

    def f(pair, scale):
        u, v = pair["u"], pair["v"]
        return {"sum": u + v * scale}, v * 2

    out, twice = vmap(f, in_dims=({"u": 0, "v": None}, None), out_dims=({"sum": 0}, None))(
        {"u": cr.Variable(x), "v": cr.Variable(y)}, 3.0)
    np.testing.assert_allclose(out["sum"].data, x + y * 3.0)
    np.testing.assert_allclose(twice.data, y * 2)
    expanded = vmap(lambda u, v: v * 2, in_dims=(0, None))(cr.Variable(x), cr.Variable(y))
    np.testing.assert_allclose(expanded.data, np.broadcast_to(y * 2, (3, 2)))


def test_keyword_arguments_are_shared_by_every_sample():
    x = cr.Variable(np.arange(6.0).reshape(3, 2))
    out = vmap(lambda r, scale=1.0: r.sum() * scale)(x, scale=np.float64(2.0))
    np.testing.assert_allclose(out.data, x.data.sum(axis=1) * 2)


def test_a_function_sees_one_sample():
    seen = []

    def f(x):
        seen.append((x.shape, x.ndim, len(x), int(x.size)))
        return x.reshape(x.shape[0] * x.shape[1]) / x.size

    out = vmap(f)(cr.Variable(np.ones((5, 2, 3))))
    assert seen == [((2, 3), 2, 2, 6)]
    assert out.shape == (5, 6)
    np.testing.assert_allclose(out.data, 1 / 6)


def test_nested_vmap_maps_both_axes():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    dot = vmap(vmap(lambda u, v: (u * v).sum(), in_dims=(None, 0)), in_dims=(0, None))
    np.testing.assert_allclose(dot(cr.Variable(a), cr.Variable(b)).data, a @ b.T)
    outer = vmap(lambda u: vmap(lambda v: u * v)(cr.Variable(b[:, 0])))  # u captured inside
    np.testing.assert_allclose(outer(cr.Variable(a[:, 0])).data, np.outer(a[:, 0], b[:, 0]))


def test_gradients_flow_through_vmap_to_the_inputs():
    rng = np.random.default_rng(5)
    x, w = cr.Variable(rng.standard_normal((4, 3))), cr.Variable(rng.standard_normal(3))
    vmap(lambda r, w: F.tanh(r @ w), in_dims=(0, None))(x, w).sum().backward()
    np.testing.assert_allclose(w.grad.data, ((1 - np.tanh(x.data @ w.data) ** 2)[:, None]
                                             * x.data).sum(0))


def test_a_user_function_without_a_rule_loops_with_a_note():
    class Cube(Function):
        def forward(self, x):
            return x ** 3

        def backward(self, gy):
            (x,) = self.inputs
            return 3 * x * x * gy

    x = cr.Variable(np.arange(6.0).reshape(3, 2))
    with pytest.warns(UserWarning, match="cube has no batching rule, so it runs once per"):
        out = vmap(lambda r: Cube()(r) + 1)(x)
    np.testing.assert_allclose(out.data, x.data ** 3 + 1)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)


def test_python_cannot_branch_on_a_batched_value():
    with pytest.raises(RuntimeError, match="vmap: bool\\(\\) of a batched Variable"):
        vmap(lambda x: x if x.sum() > 0 else -x)(cr.Variable(np.ones((2, 3))))


@pytest.mark.parametrize("call, message", [
    (lambda x, y: vmap(lambda a, b: a + b)(x, y[:2]),
     r"vmap: in_dims give different batch sizes 3 \(argument 0\) and 2 \(argument 1\)"),
    (lambda x, y: vmap(lambda a, b: a + b, in_dims=(0,))(x, y),
     "vmap: in_dims has 1 entries but <lambda> got 2 arguments"),
    (lambda x, y: vmap(lambda a: a, in_dims=2)(x),
     r"vmap: in_dim 2 is out of range for argument 0 of shape \(3, 4\)"),
    (lambda x, y: vmap(lambda a: a, in_dims=None)(x),
     "vmap: no argument is batched"),
    (lambda x, y: vmap(lambda a: 3.0)(x),
     "vmap: the function must return Variables .* but output is a float"),
    (lambda x, y: vmap(lambda a: (a, [a, "x"]))(x),
     "vmap: the function must return Variables .* but output 1 1 is a str"),
    (lambda x, y: vmap(lambda a: a, out_dims=None)(x),
     "vmap: out_dims is None for output, but it differs per sample"),
    (lambda x, y: vmap(lambda a: a, in_dims=(0.5,))(x),
     "vmap: in_dims entries are ints or None, got 0.5 for argument 0"),
])
def test_errors_are_one_sentence(call, message):
    x, y = cr.Variable(np.ones((3, 4))), cr.Variable(np.ones((3, 4)))
    with pytest.raises((ValueError, TypeError), match=message):
        call(x, y)


def test_no_note_for_ops_with_rules_and_the_plain_path_after():
    x = cr.Variable(np.ones((2, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vmap(lambda r: F.softmax(r * 2) @ np.ones(3))(x)
    y = x * 2  # outside vmap again: a plain Variable, a plain call
    assert type(y) is cr.Variable and y.shape == (2, 3)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd", "hessian", "grad"])
def test_vmap_of_each_derivative_transform_equals_the_loop(transform):
    from chainrule import func

    x = cr.Variable(np.random.default_rng(6).standard_normal((4, 3)))
    f = (lambda v: F.sin(v) * v.sum()) if transform.startswith("jac") else (
        lambda v: (F.sin(v) * v).sum() * v.sum())
    T = getattr(func, transform)
    out = vmap(T(f))(x)
    loop = np.stack([T(f)(cr.Variable(x.data[i])).data for i in range(4)])
    assert out.shape == loop.shape
    np.testing.assert_allclose(out.data, loop, rtol=1e-12, atol=1e-12)


def test_vmap_of_jvp_batches_primals_or_tangents():
    from chainrule import func

    rng = np.random.default_rng(7)
    x, t = cr.Variable(rng.standard_normal((4, 3))), cr.Variable(rng.standard_normal((4, 3)))
    f = lambda v: F.sin(v) * v.sum()  # noqa: E731
    _, tangent = vmap(lambda a, b: func.jvp(f, (a,), (b,)))(x, t)
    loop = [func.jvp(f, (cr.Variable(x.data[i]),), (cr.Variable(t.data[i]),))[1].data
            for i in range(4)]
    np.testing.assert_allclose(tangent.data, np.stack(loop), rtol=1e-12)
    x0 = cr.Variable(x.data[0])  # one primal, the basis as a batch of tangents: a Jacobian
    _, columns = vmap(lambda b: func.jvp(f, (x0,), (b,)))(cr.Variable(np.eye(3)))
    np.testing.assert_allclose(columns.data.T, func.jacfwd(f)(x0).data, rtol=1e-12)
