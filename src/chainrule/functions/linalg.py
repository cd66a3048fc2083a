"""Linear algebra: matmul (batched, as NumPy's ``@``), the affine map ``linear``, einsum,
vector norms, normalize and cosine_similarity."""

import collections
import math
import string

from chainrule.backend import get_array_module, matrix_sums, scratch
from chainrule.core import Function, Variable, as_variable, ops
from chainrule.core.aliases import either
from chainrule.core.function import records_backward
from chainrule.functions.math import abs as absolute
from chainrule.functions.math import clip
from chainrule.functions.reduction import max as max_
from chainrule.functions.shape import where
from chainrule.functions.tangent import total


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
    rows = None  # forward's (rows, in) copy of a non-contiguous x, kept for W's gradient

    def forward(self, x, W, b=None):
        if x.ndim < 2:
            y = x @ W
        else:
            # (..., in) as one (rows, in) matrix: one GEMM, where NumPy's batched matmul would
            # run one small GEMM per leading index (1.7x slower on lstm_step's (32, 35, 128) @ W)
            xp = get_array_module(x)
            if x.flags.c_contiguous:
                rows = x.reshape(-1, x.shape[-1])
            else:  # copied into a reused buffer, kept for W's gradient: lstm_step's batch-
                # first output layer copied its (32, 35, 128) input again in every backward
                rows = scratch.result("linear rows", xp, (x.size // x.shape[-1], x.shape[-1]),
                                      x.dtype)
                rows.reshape(x.shape)[...] = x
                self.rows = rows
            # a large result reuses an earlier one that nothing holds any more (Scratch.result):
            # lstm_step's 2.3 MB input projection faulted in 560 pages a step without it
            out = scratch.result("linear", xp, (len(rows), W.shape[1]), xp.result_type(x, W))
            y = xp.matmul(rows, W, out=out)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (W.shape[1],)) if x.ndim > 2 else y

    def backward(self, gy):
        x, W = self.inputs[:2]
        if x.ndim >= 2 and not records_backward():
            return self.plain_backward(gy, x, W)
        gx = gW = gb = None
        gy2 = ops.reshape(gy, (-1, gy.shape[-1]))
        if x.requires_grad:
            gx = ops.reshape(ops.matmul(gy2, W.T), x.shape)
        if W.requires_grad:
            gW = ops.matmul(ops.reshape(x, (-1, x.shape[-1])).T, gy2)
        if len(self.inputs) == 3 and self.inputs[2].requires_grad:
            gb = gy2.sum(axis=0)
        return (gx, gW, gb)[: len(self.inputs)]

    def plain_backward(self, gy, x, W):
        """The three GEMMs on the arrays, as in a plain backward (see records_backward): no
        recorded matmul, reshape and transpose, and b's gradient by ``matrix_sums``
        (lstm_step's output layer and projection: 3.1 -> 2.5 ms a step, 1 thread)."""
        g = gy._data.reshape(-1, gy.shape[-1])
        xp = get_array_module(g)
        gx = gW = gb = None
        if x.requires_grad:  # a large gx reuses an earlier one nothing holds (Scratch.result)
            out = scratch.result("linear gx", xp, (len(g), W.shape[0]), g.dtype)
            gx = gy._derived(xp.matmul(g, W._data.T, out=out).reshape(x.shape))
        if W.requires_grad:
            rows = self.rows if self.rows is not None else x._data.reshape(-1, x.shape[-1])
            gW = gy._derived(rows.T @ g)
        if len(self.inputs) == 3 and self.inputs[2].requires_grad:
            gb = gy._derived(matrix_sums(g, axis=0))
        return (gx, gW, gb)[: len(self.inputs)]

    def jvp(self, tx, tW, tb=None):
        x, W = self.inputs[:2]
        return total(None if tx is None else Linear()(tx, W),
                     None if tW is None else Linear()(x, tW), tb)


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


class Einsum(Function):
    """y = einsum(equation, *xs) (explicit, ellipsis expanded: see ``_parse_einsum``);
    gxᵢ = einsum of gy with the other operands onto xᵢ's subscripts: letters only xᵢ has are
    broadcast back, a repeated letter (a diagonal) is spread with identity matrices"""

    keeps_outputs = False

    def __init__(self, inputs, output):
        self.subscripts = inputs  # one string of letters per operand
        self.output = output

    @property
    def equation(self):
        return ",".join(self.subscripts) + "->" + self.output

    def forward(self, *xs):
        return get_array_module(xs[0]).einsum(self.equation, *xs, optimize=self._optimize(xs))

    def _optimize(self, xs):
        """NumPy's path search (BLAS, pairwise order) only where it pays: it costs ~110 µs, and
        a plain einsum ~2 ns per term of its loop (bij,bjk->bik on 8×32×32: 477 µs plain,
        124 µs optimized; on 2×3×3: 2.4 µs plain, 114 µs optimized)."""
        if len(xs) > 2:
            return True
        size = {}
        for s, x in zip(self.subscripts, xs):
            size.update(zip(s, x.shape))
        return math.prod(size.values()) > 50_000

    def backward(self, gy):
        return tuple(self._grad(i, gy) if x.requires_grad else None
                     for i, x in enumerate(self.inputs))

    def jvp(self, *txs):
        """dy = Σᵢ einsum(x₀, …, dxᵢ, …): multilinear, one term per operand with a tangent"""
        xs = self.inputs
        return total(*[Einsum(self.subscripts, self.output)(*xs[:i], t, *xs[i + 1:])
                       for i, t in enumerate(txs) if t is not None])

    def _grad(self, i, gy):
        x, own = self.inputs[i], self.subscripts[i]
        others = [s for j, s in enumerate(self.subscripts) if j != i]
        seen = set(self.output).union(*others)
        letters = "".join(dict.fromkeys(own))  # unique, in order
        kept = "".join(a for a in letters if a in seen)
        g = Einsum([self.output] + others, kept)(
            gy, *[v for j, v in enumerate(self.inputs) if j != i])
        if kept != letters:  # letters only x has were summed away: broadcast them back
            size = dict(zip(own, x.shape))
            size.update(zip(kept, g.shape))
            g = ops.reshape(g, tuple(size[a] if a in kept else 1 for a in letters))
            g = ops.broadcast_to(g, tuple(size[a] for a in letters))
        if letters == own:
            return g
        # a letter repeated in x (its diagonal): δ matrices put g back on the diagonal
        spread, eyes, fresh = [], [], iter(_unused_letters(self.equation))
        xp = get_array_module(gy.data)
        for a, n in zip(own, x.shape):
            if a in spread:
                b = next(fresh)
                eyes.append((a + b, gy.constant(xp.eye(n, dtype=gy.dtype))))
                a = b
            spread.append(a)
        return Einsum([letters] + [s for s, _ in eyes], "".join(spread))(
            g, *[e for _, e in eyes])


def _unused_letters(equation):
    return [a for a in string.ascii_letters if a not in equation]


def _parse_einsum(equation, shapes):
    """The equation with each '...' spelled out in letters, and the output made explicit.

    Returns (input subscripts, output subscripts); raises ValueError naming the problem.
    """
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: '{equation}' names {len(inputs)} operands, got "
                         f"{len(shapes)}")
    for s in inputs + [rhs]:
        if not all(a in string.ascii_letters for a in s.replace("...", "")):
            raise ValueError(f"einsum: subscripts must be letters or '...', got '{s}'")
    spare = _unused_letters(equation)
    widths = []
    for s, shape in zip(inputs, shapes):
        named = len(s.replace("...", ""))
        if len(shape) < named or ("..." not in s and len(shape) != named):
            raise ValueError(f"einsum: subscripts '{s}' do not fit an operand of shape {shape}")
        widths.append(len(shape) - named if "..." in s else 0)
    ellipsis = "".join(spare[:max(widths, default=0)])
    inputs = [s.replace("...", ellipsis[len(ellipsis) - w:]) for s, w in zip(inputs, widths)]
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        counts = collections.Counter("".join(inputs))
        output = ellipsis + "".join(sorted(a for a, k in counts.items()
                                           if k == 1 and a not in ellipsis))
    if len(set(output)) != len(output) or not set(output) <= set("".join(inputs)):
        raise ValueError(f"einsum: output '{rhs}' repeats a letter or names one no operand has")
    return inputs, output


def einsum(equation, *operands):
    """Einstein summation, as np.einsum and torch.einsum: ``einsum("bij,bjk->bik", a, b)``.

    Operands may also come as one list, as torch allows. '...' stands for the axes a
    subscript does not name; without '->' the output is the letters used once, sorted.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    anchor = next((x for x in operands if isinstance(x, Variable)), None)
    if anchor is None:
        anchor = as_variable(operands[0])
    operands = [anchor.constant(x) for x in operands]  # Variables pass through as they are
    inputs, output = _parse_einsum(equation, [x.shape for x in operands])
    return Einsum(inputs, output)(*operands)


def vector_norm(x, ord=2, axis=None, keepdims=False):
    """(Σ |x|ᵖ)^(1/p) over ``axis``, p = ``ord`` > 0 or inf (max |x|), as torch.linalg.vector_norm.

    The gradient at a zero vector is 0, as torch's.
    """
    x = as_variable(x)
    if ord == math.inf:
        return max_(absolute(x), axis, keepdims)
    if not ord > 0:
        raise ValueError(f"vector_norm: ord must be positive or inf, got {ord}")
    return PNorm(ord, axis, keepdims)(x)


class PNorm(Function):
    """y = (Σ |x|ᵖ)^(1/p) over ``axis``;  gx = gy · sign(x) (|x| / y)^(p-1), 0 where y = 0"""

    def __init__(self, p, axis, keepdims):
        self.p = p
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        xp = get_array_module(x)
        if self.p == 2:
            return xp.sqrt((x * x).sum(axis=self.axis, keepdims=self.keepdims))
        powered = (xp.abs(x) ** self.p).sum(axis=self.axis, keepdims=self.keepdims)
        return powered ** (1.0 / self.p)

    def backward(self, gy):
        return ops.reshape(gy, ops.kept_shape(self.inputs[0].shape, self.axis)) * self.slope()

    def jvp(self, tx):
        return ops.sum(tx * self.slope(), self.axis, self.keepdims)

    def slope(self):
        """∂y/∂x, x's shape: sign(x) (|x| / y)^(p-1), and 0 where y = 0 (as torch's)."""
        (x,) = self.inputs
        y = ops.reshape(self.outputs[0](), ops.kept_shape(x.shape, self.axis))
        y = where(y.data == 0, 1.0, y)  # x = 0 there: the gradient is 0, as torch's
        if self.p == 2:
            return x / y
        sign = get_array_module(x.data).sign(x.data)
        if self.p == 1:
            return x.constant(sign)
        return sign * (absolute(x) / y) ** (self.p - 1)


def normalize(input, p=2.0, dim=1, eps=1e-12, *, axis=None):
    """x / max(‖x‖ₚ, eps) along ``dim`` (``axis``), as torch.nn.functional.normalize."""
    x = as_variable(input)
    dim = either("normalize", dim=dim, axis=axis, default=1)
    _check_axis("normalize", x, dim)
    return x / clip(vector_norm(x, p, dim, keepdims=True), eps, None)


def cosine_similarity(x1, x2, dim=1, eps=1e-8, *, axis=None):
    """Σ x1 x2 / (max(‖x1‖, eps) max(‖x2‖, eps)) along ``dim``, x1 and x2 broadcast, as torch's
    (whose eps clamp passes the norm's gradient through unchanged, so does this one's)."""
    x1, x2 = as_variable(x1), as_variable(x2)
    dim = either("cosine_similarity", dim=dim, axis=axis, default=1)
    try:
        shape = get_array_module(x1.data).broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not "
                         "broadcast") from None
    x1, x2 = ops.broadcast_to(x1, shape), ops.broadcast_to(x2, shape)
    _check_axis("cosine_similarity", x1, dim)
    xp = get_array_module(x1.data)
    unit = []
    for x in (x1, x2):
        n = vector_norm(x, 2, dim, keepdims=True)
        # torch clamps n in place, outside the graph: the clamp shifts n by a constant
        unit.append(x / (n + (xp.maximum(n.data, eps) - n.data)))
    return ops.sum(unit[0] * unit[1], dim)


def _check_axis(op, x, axis):
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: dim {axis} is out of range for shape {x.shape}")
