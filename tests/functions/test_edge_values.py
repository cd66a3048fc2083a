"""Every op of chainrule.functions, and Variable's operators, on edge values against PyTorch.

The rows live in edge_rows.py (one per op: name, chainrule call, torch call, inputs). Forward
values and gradients, NaN and inf positions included, must equal torch's; zero signs aside.
Where chainrule differs on purpose, KNOWN_DIFFERENCES says why, and a test pins both sides so
the note cannot go stale. Without torch every row still runs: no exception, and each gradient
has its input's shape and dtype.
"""

import warnings

import numpy as np
import pytest
from edge_rows import EMPTY, KNOWN_DIFFERENCES, SWEEP, WHOLE

import chainrule as cr
import chainrule.functions as F
from harness import torch


def chainrule_side(row, arrays):
    """Forward value, then gradients (then second gradients) of ``row`` for an upstream of ones."""
    xs = [cr.Variable(a.copy()) for a in arrays]
    y = row.op(*xs)
    out = [y.data]
    wanted = [x for x in xs if x.dtype.kind == "f"]
    if not wanted or y.dtype.kind != "f":
        return out
    grads = cr.grad(y, wanted, grad_outputs=[np.ones(y.shape, y.dtype)],
                    create_graph=row.order > 1, allow_unused=True)
    out += [np.zeros(x.shape) if g is None else g.data for x, g in zip(wanted, grads)]
    if row.order > 1:
        for g in grads:
            if g is None or g.creator is None:
                out += [np.zeros(x.shape) for x in wanted]
                continue
            second = cr.grad(g, wanted, grad_outputs=[np.ones(g.shape)], allow_unused=True)
            out += [np.zeros(x.shape) if s is None else s.data for x, s in zip(wanted, second)]
    return out


def torch_side(row, arrays):
    """The same numbers from torch, with None or a constant gradient read as zeros."""
    ts = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    y = row.twin(*ts)
    out = [y.detach().numpy()]
    wanted = [t for t in ts if t.requires_grad]
    if not wanted or not y.dtype.is_floating_point:
        return out
    grads = torch.autograd.grad(y, wanted, torch.ones_like(y), create_graph=row.order > 1,
                                allow_unused=True)
    out += [np.zeros(t.shape) if g is None else g.detach().numpy(force=True)
            for t, g in zip(wanted, grads)]
    if row.order > 1:
        for g in grads:
            if g is None or not g.requires_grad:
                out += [np.zeros(t.shape) for t in wanted]
                continue
            second = torch.autograd.grad(g, wanted, torch.ones_like(g), allow_unused=True)
            out += [np.zeros(t.shape) if s is None else s.numpy(force=True)
                    for t, s in zip(wanted, second)]
    return out


def quietly(fn, *args):
    """``fn(*args)`` without NumPy's overflow and invalid-value warnings: edges raise them."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


def assert_same(actual, expected, what, rtol=1e-6):
    """Equal values, infinities and NaN positions (equal_nan), zero signs aside."""
    what = f"{what}: chainrule {actual!r} vs torch {expected!r}"
    assert np.shape(actual) == np.shape(expected), what
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float),
                               rtol=rtol, atol=1e-12, err_msg=what)


def _ids(rows):
    return [row.name for row in rows]


@pytest.mark.parametrize("row", SWEEP + EMPTY + WHOLE, ids=_ids(SWEEP + EMPTY + WHOLE))
def test_op_runs_on_edge_values_and_gradients_fit_their_inputs(row):
    xs = [cr.Variable(a.copy()) for a in row.inputs]
    y = quietly(row.op, *xs)
    if y.dtype.kind == "f" and any(x.dtype.kind == "f" for x in xs):
        quietly(y.backward, np.ones(y.shape, y.dtype))
        for x in xs:
            assert x.grad is None or (x.grad.shape, x.grad.dtype) == (x.shape, x.dtype)


@pytest.mark.parametrize("row", SWEEP + EMPTY, ids=_ids(SWEEP + EMPTY))
def test_op_matches_torch_on_edge_values(row):
    pytest.importorskip("torch")
    n = len(row.inputs)
    names = (["forward"] + [f"gradient {i}" for i in range(n)]
             + [f"gradient of gradient {i} for input {j}" for i in range(n) for j in range(n)])
    mine, theirs = quietly(chainrule_side, row, row.inputs), quietly(torch_side, row, row.inputs)
    assert len(mine) == len(theirs) <= len(names)
    for name, a, b in zip(names, mine, theirs):
        assert_same(a, b, f"{row.name} {name}")


@pytest.mark.parametrize("row", WHOLE, ids=_ids(WHOLE))
def test_op_on_integer_and_bool_inputs_matches_torch_values(row):
    pytest.importorskip("torch")
    (mine,) = quietly(chainrule_side, row, row.inputs)
    (theirs,) = quietly(torch_side, row, row.inputs)
    precision = np.finfo(mine.dtype).eps if mine.dtype.kind == "f" else 0
    assert_same(mine, theirs, row.name, rtol=max(1e-6, precision))  # torch has float32
    assert mine.dtype.kind == theirs.dtype.kind  # int stays int, float is float (see below)


@pytest.mark.parametrize("name", sorted(KNOWN_DIFFERENCES))
def test_known_differences_from_torch_are_as_documented(name):
    op, twin, x, expected, torch_expected, why = KNOWN_DIFFERENCES[name]
    assert len(why) > 80  # the reason is written out
    assert_identical(quietly(op, cr.Variable(x)).data.ravel()[0], expected)
    if torch is not None:
        assert_identical(quietly(twin, torch.tensor(x)).numpy().ravel()[0], torch_expected)


def assert_identical(value, expected):
    """The same number, NaN included, and the same sign when it is zero."""
    assert value == expected or (np.isnan(value) and np.isnan(expected))
    assert value != 0 or np.signbit(value) == np.signbit(expected)


def test_every_function_has_an_edge_row():
    swept = {row.name.split("[")[0] for row in SWEEP + EMPTY + WHOLE}
    missing = sorted(set(F.__all__) - swept)
    assert not missing, f"add a row to tests/functions/edge_rows.py for {missing}"
