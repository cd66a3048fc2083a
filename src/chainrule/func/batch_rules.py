"""Batching rules of the operations in chainrule.core: how each runs on a whole batch at once.

A rule gets the Batch, the Function (with its settings), its inputs and which of them are
batched (their array has the batch in front), and returns the output(s) with the batch in
front, computed by ordinary Function calls (the batch is switched off while a rule runs).
Most rules are one of a few kinds, named for what they do to the batch axis:

- ``elementwise``: operands broadcast together; a batched one gets 1s after its batch axis
  up to the largest rank of one sample, so NumPy's broadcasting lines the batch up in front;
- ``along_axis``: the op's axis (or axes; None is every axis of a sample) moves up by one;
- shape ops: the batch size is prepended to the target shape, the index, the axes;
- ``matmul``: one batched matmul, 1-d operands made matrices first.

The rules for chainrule.functions are in batch_rules_nn.py.
"""

import numpy as np

from chainrule.backend import get_array_module, scratch
from chainrule.backend_threads import parallel_for
from chainrule.core import Function, indexing, ops, reductions, scalar_ops
from chainrule.core import elementwise as E
from chainrule.core.variable import Variable
from chainrule.func.batching import logical_ndim, loop, rule


def pad(x, batched, rank):
    """Batched ``x`` reshaped to (B, 1, ..., sample shape) with ``rank`` axes after the batch."""
    missing = rank - logical_ndim(x, batched)
    if not batched or missing <= 0:
        return x
    shape = x._data.shape
    return ops.reshape(x, shape[:1] + (1,) * missing + shape[1:])


def padded(inputs, batched, rank=0):
    """Every batched input padded to the largest rank of one sample among them (and ``rank``)."""
    rank = max([rank] + [logical_ndim(x, b) for x, b in zip(inputs, batched)])
    return [pad(x, b, rank) for x, b in zip(inputs, batched)]


def shifted(axis, ndim):
    """A sample's ``axis`` (an int, a tuple, or None for all ``ndim`` axes) in the batch."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim + 1 for a in axis) if ndim else tuple(axis)
    return axis % ndim + 1 if ndim else axis


def together(batch, inputs, batched):
    """All inputs batched: the unbatched ones repeated for every sample (views)."""
    return [x if b else batch.expand(x) for x, b in zip(inputs, batched)]


# ---- elementwise and broadcasting ---------------------------------------------------------
@rule(ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Neg, ops.Pow, ops.Log, ops.Cast, ops.Copy, ops.Alias,
      E.Exp, E.Sqrt, E.Abs, E.Tanh, E.TanhGrad, E.Sigmoid, E.SigmoidGrad, E.ReLU, E.ReluGrad,
      E.Clip, E.ToDevice)
def elementwise(batch, function, inputs, batched):
    return function(*padded(inputs, batched))


@rule(scalar_ops.ScalarOp)
def scalar_op(batch, function, inputs, batched):
    """x ∘ c: a constant array c counts as an operand for the alignment."""
    return function(*padded(inputs, batched, np.ndim(function.c)))


@rule(ops.Where)
def where(batch, function, inputs, batched):
    return function(*padded(inputs, batched, np.ndim(function.condition)))


# ---- reductions: the axis moves up by one ------------------------------------------------
@rule(ops.Sum, reductions.Extreme, reductions.Softmax, reductions.LogSoftmax)
def along_axis(batch, function, inputs, batched):
    (x,) = inputs
    function.axis = shifted(function.axis, logical_ndim(x, True))
    return function(x)


@rule(ops.SumTo)
def sum_to(batch, function, inputs, batched):
    (x,) = inputs
    shape = tuple(function.shape)
    lead = logical_ndim(x, True) - len(shape)
    if lead > 0:  # a sample's leading axes first: NumPy's rule would take the batch's
        x = ops.Sum(tuple(range(1, lead + 1)))(x)
    return ops.SumTo(x._data.shape[:1] + shape)(pad(x, True, len(shape)))


# ---- shapes: the batch is prepended ------------------------------------------------------
@rule(ops.Reshape)
def reshape(batch, function, inputs, batched):
    (x,) = inputs
    shape = function.shape
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if -1 in shape:  # resolved against one sample: the batch may be empty
        known = int(np.prod([n for n in shape if n != -1]))
        sample = int(np.prod(x._data.shape[1:]))
        shape = tuple(sample // known if n == -1 and known else n for n in shape)
    return ops.Reshape((batch.size,) + shape)(x)


@rule(ops.Transpose)
def transpose(batch, function, inputs, batched):
    (x,) = inputs
    ndim = logical_ndim(x, True)
    axes = function.axes
    axes = range(ndim - 1, -1, -1) if axes is None else [a % ndim for a in axes]
    return ops.Transpose((0,) + tuple(a + 1 for a in axes))(x)


@rule(ops.BroadcastTo)
def broadcast_to(batch, function, inputs, batched):
    (x,) = inputs
    shape = tuple(function.shape)
    return ops.BroadcastTo((batch.size,) + shape)(pad(x, True, len(shape)))


def batched_index(index):
    """A sample's index with the batch axis kept in front, or None when NumPy would move the
    batch (advanced indices split by a slice go first)."""
    index = index if isinstance(index, tuple) else (index,)
    advanced = [i for i, k in enumerate(index)
                if isinstance(k, (list, np.ndarray)) or (hasattr(k, "shape") and k.ndim)]
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        return None
    return (slice(None),) + index


@rule(indexing.GetItem)
def get_item(batch, function, inputs, batched):
    (x,) = inputs
    index = batched_index(function.index)
    if index is None:
        return loop(batch, function, inputs, batched, "indices split by a slice")
    return indexing.GetItem(index)(x)


@rule(indexing.GetItemGrad)
def get_item_grad(batch, function, inputs, batched):
    (gy,) = inputs
    index = batched_index(function.index)
    if index is None:
        return loop(batch, function, inputs, batched, "indices split by a slice")
    return indexing.GetItemGrad(index, (batch.size,) + tuple(function.shape))(gy)


# ---- matmul --------------------------------------------------------------------------------
@rule(ops.MatMul)
def matmul(batch, function, inputs, batched):
    return batched_matmul(inputs, batched)


def batched_matmul(inputs, batched):
    """x0 @ x1 for each sample as one matmul: a 1-d sample becomes a row (left) or a column
    (right), the batched operand is padded to the other's rank, the extra axis dropped after.
    An unbatched operand needs nothing: matmul broadcasts its leading axes."""
    (a, b), (ba, bb) = inputs, batched
    if ba and bb and logical_ndim(b, True) == 2 and a._data.shape[1:-1] in ((), (1,)):
        return row_times_matrix(a, b)
    a_vector, b_vector = logical_ndim(a, ba) == 1, logical_ndim(b, bb) == 1
    if a_vector:
        a = unsqueeze(a, ba, -2)
    if b_vector:
        b = unsqueeze(b, bb, -1)
    rank = max(logical_ndim(a, ba), logical_ndim(b, bb))
    y = ops.MatMul()(pad(a, ba, rank), pad(b, bb, rank))
    shape = y._data.shape
    if a_vector:
        shape = shape[:-2] + shape[-1:]
    if b_vector:
        shape = shape[:-1]
    return ops.reshape(y, shape) if shape != y._data.shape else y


def row_times_matrix(a, b):
    """One row per sample times that sample's matrix (per-sample weights, as in vmap(grad)):
    a (B, n) or (B, 1, n), b (B, n, m)."""
    shape = a._data.shape
    y = RowTimesMatrix()(ops.reshape(a, (shape[0], shape[-1])) if len(shape) == 3 else a, b)
    return ops.reshape(y, shape[:-1] + y._data.shape[-1:]) if len(shape) == 3 else y


class RowTimesMatrix(Function):
    """y[s] = a[s] @ b[s], a (B, n), b (B, n, m);  ga[s] = gy[s] @ b[s]ᵀ,  gb[s] = a[s] ⊗ gy[s]

    A matmul of B single rows wastes BLAS on each sample's outer product in backward (a
    contraction over one index); here gb is one ``SampleOuter`` instead. A b repeated for
    every sample (stride 0: unbatched weights made per-sample leaves) is multiplied once,
    as one GEMM.
    """

    keeps_outputs = False

    def forward(self, a, b):
        if b.strides[0] == 0:
            return a @ b[0]
        return (a[:, None, :] @ b)[:, 0, :]

    def backward(self, gy):
        a, b = self.inputs
        ga = RowTimesMatrix()(gy, ops.swap_last_axes(b)) if a.requires_grad else None
        gb = SampleOuter()(a, gy) if b.requires_grad else None
        return ga, gb

    def jvp(self, ta, tb):
        a, b = self.inputs
        return ops.plus(None if ta is None else RowTimesMatrix()(ta, b),
                        None if tb is None else RowTimesMatrix()(a, tb))


# einsum zeroes its output, then adds the products into it: two passes over memory. Over a
# couple of MiB of the output at a time the second pass finds the first's zeros still in
# cache: bench's first layer (64 × 784 × 512 float32) took 7.2-7.6 ms this way against
# 8.8-9.1 in one call, its second 4.7-5.3 against 5.9-6.5 (one thread, bench/README.md).
# NumPy's multiply, one pass, is no faster: its stores miss the cache with nothing to fetch
# the lines ahead, and with a stride-0 operand it copies rows through its 8192-element buffer.
CHUNK_BYTES = 1 << 21


def _outer(out, a, g):
    """out[s, i, j] = a[s, i] g[s, j] for every sample s, a few samples per einsum call."""
    step = max(1, CHUNK_BYTES // max(1, out[0].nbytes if len(out) else 1))

    def samples(lo, hi):
        for s in range(lo, hi, step):
            e = min(s + step, hi)
            np.einsum("bi,bj->bij", a[s:e], g[s:e], out=out[s:e])

    parallel_for(samples, len(out), out.nbytes)
    return out


class SampleOuter(Function):
    """y[s] = a[s] ⊗ g[s], a (B, n), g (B, m);  ga[s] = gy[s] @ g[s],  gg[s] = a[s] @ gy[s]

    Each sample's weight gradient in ``vmap(grad(loss))``: the whole result (bench's MLP:
    64 × 668,426 floats, 171 MB) is written here, once, which is most of the step. So it is
    written straight into its final array by ``einsum``, a couple of MiB at a time (``_outer``),
    the samples cut over the intra-op threads (backend_threads.parallel_for), and that array
    comes from ``scratch.result``: the one a previous step returned, once the caller has
    dropped it, with its pages still mapped (faulting 171 MB in anew each step cost about as
    much as writing it).
    """

    keeps_outputs = False

    def forward(self, a, g):
        xp = get_array_module(a)
        if xp is not np:
            return a[:, :, None] * g[:, None, :]
        dtype = np.result_type(a, g)
        out = scratch.result("SampleOuter", np, a.shape + g.shape[1:], dtype)
        return _outer(out, a.astype(dtype, copy=False), g.astype(dtype, copy=False))

    def backward(self, gy):
        a, g = self.inputs
        ga = RowTimesMatrix()(g, ops.swap_last_axes(gy)) if a.requires_grad else None
        gg = RowTimesMatrix()(a, gy) if g.requires_grad else None
        return ga, gg

    def jvp(self, ta, tg):
        a, g = self.inputs
        return ops.plus(None if ta is None else SampleOuter()(ta, g),
                        None if tg is None else SampleOuter()(a, tg))


def unsqueeze(x, batched, axis):
    if not isinstance(x, Variable):
        x = Variable(np.asarray(x), requires_grad=False)
    shape = x._data.shape
    axis = axis % (len(shape) + 1)
    return ops.reshape(x, shape[:axis] + (1,) + shape[axis:])
