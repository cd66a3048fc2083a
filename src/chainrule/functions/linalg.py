"""Linear algebra: matmul (batched, as NumPy's ``@``) and the affine map ``linear``."""

from chainrule.core import Function, as_variable, ops


def _check_matmul(op, a, b):
    """Raise one sentence naming ``op`` and both shapes unless ``a @ b`` is defined."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape}: scalars cannot be multiplied "
                         "as matrices (use mul)")
    inner = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not align "
                         f"({a.shape[-1]} != {inner})")


def matmul(x0, x1):
    """y = x0 @ x1: matrix product over the last two axes, leading axes broadcast (batched).

    Shapes: (..., n, k) @ (..., k, m) -> (..., n, m); 1-D operands as in NumPy.
    """
    x0, x1 = as_variable(x0), as_variable(x1)  # arrays keep their dtype either way
    _check_matmul("matmul", x0, x1)
    return ops.matmul(x0, x1)


class Linear(Function):
    """y = x @ W + b;  gx = gy @ Wᵀ, gW = xᵀ @ gy, gb = Σ gy over the batch axes.

    Shapes: x (..., in), W (in, out), b (out,) or none -> y (..., out). Leading axes of x
    are folded into one batch axis for gW and gb.
    """

    keeps_outputs = False

    def forward(self, x, W, b=None):
        # (..., in) as one (rows, in) matrix: one GEMM, where NumPy's batched matmul would
        # run one small GEMM per leading index (1.7x slower on lstm_step's (32, 35, 128) @ W.T)
        y = x.reshape(-1, x.shape[-1]) @ W if x.ndim > 2 else x @ W
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (W.shape[1],)) if x.ndim > 2 else y

    def backward(self, gy):
        x, W = self.inputs[:2]
        gx = gW = gb = None
        gy2 = ops.reshape(gy, (-1, gy.shape[-1]))
        if x.requires_grad:
            gx = ops.reshape(ops.matmul(gy2, W.T), x.shape)
        if W.requires_grad:
            gW = ops.matmul(ops.reshape(x, (-1, x.shape[-1])).T, gy2)
        if len(self.inputs) == 3 and self.inputs[2].requires_grad:
            gb = gy2.sum(axis=0)
        return (gx, gW, gb)[: len(self.inputs)]


def linear(x, W, b=None):
    """y = x @ W + b, the affine map of a fully connected layer.

    Shapes: x (N, in) or (..., in), W (in, out), b (out,) -> y (N, out) or (..., out).

    >>> linear(np.ones((2, 3)), Variable(np.ones((3, 4))), Variable(np.zeros(4))).shape
    (2, 4)
    """
    x, W = as_variable(x), as_variable(W)
    if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[0]:
        raise ValueError(f"linear: x of shape {x.shape} does not fit W of shape {W.shape} "
                         "(expected x (..., in) and W (in, out))")
    if b is None:
        return Linear()(x, W)
    b = as_variable(b)
    if b.shape != (W.shape[1],):
        raise ValueError(f"linear: b of shape {b.shape} does not fit W of shape {W.shape} "
                         f"(expected ({W.shape[1]},))")
    return Linear()(x, W, b)
