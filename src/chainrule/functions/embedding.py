"""Embedding: rows of a weight matrix picked by integer ids; one_hot, the identity's rows."""

from chainrule.backend import get_array_module, scatter_add, scratch
from chainrule.core import Function, Variable, as_variable
from chainrule.core.function import batchable, records_backward
from chainrule.core.indexing import GetItemGrad


class Embedding(Function):
    """y = W[ids]  (ids any shape, W (num, dim) -> y ids.shape + (dim,))

    gW[k] = Σ_{i: ids[i] = k} gy[i]: repeated ids accumulate.
    """

    keeps_outputs = False

    def __init__(self, ids):
        self.ids = ids

    def forward(self, W):
        xp = get_array_module(W)
        # a large result reuses an earlier one that nothing holds any more (Scratch.result);
        # the ids were checked, so "clip" (out= is buffered under the default "raise")
        out = scratch.result("embedding", xp, self.ids.shape + W.shape[1:], W.dtype)
        return xp.take(W, self.ids, axis=0, out=out, mode="clip")

    def backward(self, gy):
        # gW = zeros(num, dim) with gy[i] added to row ids[i]: indexing's own scatter-add.
        if not records_backward():  # on the arrays (see records_backward)
            gW = get_array_module(gy._data).zeros(self.inputs[0].shape, gy.dtype)
            scatter_add(gW, self.ids, gy._data)
            return gy._derived(gW)
        return GetItemGrad(self.ids, self.inputs[0].shape)(gy)

    def jvp(self, tW):
        return Embedding(self.ids)(tW)


@batchable
def embedding(ids, W):
    """The rows of W (num, dim) at integer ``ids`` (any shape): W[ids] of shape ids.shape + (dim,).

    ``ids`` must lie in [0, num); a repeated id adds its rows' gradients together::

        y = embedding(np.array([[0, 2], [2, 1]]), W)   # W (3, 4) -> y (2, 2, 4)
    """
    W = as_variable(W)
    ids = ids.data if isinstance(ids, Variable) else ids
    xp = get_array_module(W.data)
    ids = xp.asarray(ids)
    if W.ndim != 2:
        raise ValueError(f"embedding: W must be (num, dim), got shape {W.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= W.shape[0]):
        raise ValueError(
            f"embedding: ids must lie in [0, {W.shape[0]}) for W of shape {W.shape}, "
            f"got values from {int(ids.min())} to {int(ids.max())}"
        )
    return Embedding(ids)(W)


@batchable
def one_hot(t, num_classes=-1):
    """Integer class indices ``t`` (any shape) as one-hot rows: t.shape + (num_classes,), int64,
    as torch's; -1 takes max(t) + 1 classes. A lookup table, not a differentiable op: the
    result needs no gradient (cast it to the float dtype you compute in)."""
    data = t.data if isinstance(t, Variable) else t
    xp = get_array_module(data)
    t = xp.asarray(data)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class indices must be integers, got dtype {t.dtype}")
    if num_classes == -1:
        if not t.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty array; pass it")
        num_classes = int(t.max()) + 1
    if t.size and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ValueError(f"one_hot: class indices must lie in [0, {num_classes}), got values "
                         f"from {int(t.min())} to {int(t.max())}")
    y = (t[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return Variable(y, requires_grad=False)
