"""Variable: an array with a gradient and a memory of the Function that made it."""

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import engine, ops
from chainrule.core.tensor import Size, TensorMethods

_SCALARS = (int, float, complex, bool, np.generic)
_NUMBERS = {int, float}  # Python numbers: NumPy keeps them weak, so dtypes survive
_WEAK = {int, float, Size}  # ... and x.size, an int that NumPy alone would promote as int64
# Constants an operator hands to a one-input op (ops.ScalarOp) as a setting, not an input:
# no constant Variable is made and no gradient is computed for them. For
# ``F.tanh(y * a + b)`` with NumPy a and b this took op_constants from 6.3 to 5.0 µs per op.
_CONSTANTS = {int, float, np.ndarray}
_new = object.__new__


def as_array(data, like=None):
    """An ndarray of ``data``; a Python scalar takes the dtype ``like`` would give it.

    NumPy's promotion rules decide: ``float32 array * 2.0`` stays float32, an
    integer array times 0.5 becomes float64, as it would in plain NumPy.
    """
    if like is None:
        if isinstance(data, (str, bytes)) or data is None:
            raise TypeError(
                f"Variable: data must be an array or a number, got {type(data).__name__}")
        if get_array_module(data) is not np:
            return data
        return np.asarray(data)
    xp = get_array_module(like)
    if type(data) in _WEAK and like.dtype.kind in "fc":
        return xp.asarray(data, dtype=like.dtype)
    if isinstance(data, _SCALARS):
        return xp.asarray(data, dtype=np.result_type(like, data))
    return as_array(data)


class Variable(TensorMethods):
    """A node of the graph holding ``data`` (an array) and, after backward, ``grad``.

    Its array methods as PyTorch and NumPy spell them (``x.mean(dim=1)``, ``x.view(n, -1)``,
    ``x > 0``) come from ``TensorMethods`` (core/tensor.py); the graph is here.

    >>> x = Variable(np.array(3.0))
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad
    variable(8.)
    """

    __slots__ = ("data", "name", "grad", "creator", "generation", "requires_grad", "__weakref__")
    __array_ufunc__ = None  # `ndarray + Variable` defers to Variable.__radd__
    __array_priority__ = 200  # the same for CuPy arrays
    __hash__ = object.__hash__  # by identity, so a Variable stays a dict key beside __eq__

    def __init__(self, data, name=None, requires_grad=True):
        if isinstance(data, Variable):
            raise TypeError("Variable: data is already a Variable (use it directly, or .data)")
        self.data = data if type(data) is np.ndarray else as_array(data)
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0
        self.requires_grad = requires_grad

    def _derived(self, data):
        """A new plain Variable for data computed from this one (a Function's output).

        The hot path of every operation, so it fills the slots without ``__init__``.
        """
        y = _new(Variable)
        if type(data) is not np.ndarray:  # 0-d results come back as NumPy scalars
            data = np.asarray(data) if isinstance(data, np.generic) else as_array(data)
        y.data = data
        y.name = y.grad = y.creator = None
        y.generation = 0
        y.requires_grad = False
        return y

    def constant(self, value):
        """``value`` as a Variable that needs no gradient, in the dtype this one gives it."""
        if type(value) is np.ndarray:  # kept as it is: forward promotes as NumPy does
            return self._derived(value)
        if isinstance(value, Variable):
            return value
        return self._derived(as_array(value, like=self.data))

    # ---- the graph ------------------------------------------------------
    def backward(self, grad=None, retain_grad=False, create_graph=False):
        """Fill ``.grad`` of every leaf this Variable depends on (accumulating).

        ``grad`` (the gradient of this output, as in PyTorch) defaults to ones.
        ``retain_grad`` keeps the grads of intermediate Variables too;
        ``create_graph`` records the backward pass so that the grads can be
        differentiated again.
        """
        if isinstance(grad, bool):  # DeZero's backward(True) meant retain_grad
            raise TypeError("backward: the first argument is the output gradient; "
                            "pass retain_grad=True or create_graph=True by name")
        engine.backward([self], [grad], retain_grad=retain_grad, create_graph=create_graph)

    def cleargrad(self):
        self.grad = None

    def unchain(self):
        """Forget the creator: this Variable becomes a leaf (truncated backprop)."""
        self.creator = None

    def detach(self):
        """A new leaf sharing this Variable's data, cut from the graph."""
        return Variable(self.data, requires_grad=False)

    # ---- array facts ----------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def T(self):
        return ops.transpose(self)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.numpy(), prefix="variable(", separator=", ")
        name = f", name={self.name!r}" if self.name else ""
        return f"variable({body}{name})"

    def item(self):
        return self.data.item()

    # ---- as a NumPy array would convert --------------------------------------
    def __array__(self, dtype=None, copy=None):
        """``np.asarray(v)``: the data (a view, not an object array); ufuncs still refuse."""
        data = self.numpy()
        if dtype is not None and data.dtype != dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def numpy(self):
        """The data as a NumPy array (copied from the GPU when it lives there)."""
        xp = get_array_module(self.data)
        return self.data if xp is np else xp.asnumpy(self.data)

    # ---- shape methods ----------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return ops.reshape(self, shape)

    def sum_to(self, shape):
        return ops.sum_to(self, shape)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def __getitem__(self, index):
        if isinstance(index, Variable):
            index = index.data
        return ops.get_item(self, index)

    # ---- operators --------------------------------------------------------
    # A Python number or a NumPy array takes a one-input op that keeps it as a setting
    # (ops.ScalarOp: cheaper, and no gradient is computed for it); anything else is
    # lifted to a constant by Function.__call__.
    def __add__(self, other):
        if type(other) in _CONSTANTS:
            return ops.AddScalar(other)(self)
        return ops.Add()(self, other)

    def __radd__(self, other):
        if type(other) in _CONSTANTS:
            return ops.AddScalar(other)(self)
        return ops.Add()(other, self)

    def __sub__(self, other):
        if type(other) in _NUMBERS:
            return ops.AddScalar(-other)(self)
        if type(other) is np.ndarray:
            return ops.SubScalar(other)(self)
        return ops.Sub()(self, other)

    def __rsub__(self, other):
        if type(other) in _CONSTANTS:
            return ops.RSubScalar(other)(self)
        return ops.Sub()(other, self)

    def __mul__(self, other):
        if type(other) in _CONSTANTS:
            return ops.MulScalar(other)(self)
        return ops.Mul()(self, other)

    def __rmul__(self, other):
        if type(other) in _CONSTANTS:
            return ops.MulScalar(other)(self)
        return ops.Mul()(other, self)

    def __truediv__(self, other):
        if type(other) in _CONSTANTS:
            return ops.DivScalar(other)(self)
        return ops.Div()(self, other)

    def __rtruediv__(self, other):
        return ops.Div()(other, self)

    def __pow__(self, other):
        if type(other) in _NUMBERS:
            return ops.PowScalar(other)(self)
        return ops.Pow()(self, other)

    def __rpow__(self, other):
        return ops.Pow()(other, self)

    def __matmul__(self, other):
        return ops.MatMul()(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul()(other, self)

    def __neg__(self):
        return ops.Neg()(self)

    def __pos__(self):
        return self


def as_variable(obj):
    """``obj`` itself if it is a Variable, else a new Variable that needs no gradient."""
    if isinstance(obj, Variable):
        return obj
    return Variable(obj, requires_grad=False)
