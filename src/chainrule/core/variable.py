"""Variable: an array with a gradient and a memory of the Function that made it."""

import weakref

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import engine, indexing, ops, scalar_ops
from chainrule.core.mode import grad_mode
from chainrule.core.tensor import Size, TensorMethods
from chainrule.core.tracked import TrackedArray, plain, track

_SCALARS = (int, float, complex, bool, np.generic)
_NUMBERS = {int, float}  # Python numbers: NumPy keeps them weak, so dtypes survive
_WEAK = {int, float, Size}  # ... and x.size, an int that NumPy alone would promote as int64
# Constants an operator hands to a one-input op (scalar_ops.ScalarOp) as a setting, not an input:
# no constant Variable is made and no gradient is computed for them. For
# ``F.tanh(y * a + b)`` with NumPy a and b this took op_constants from 6.3 to 5.0 µs per op.
_CONSTANTS = {int, float, np.ndarray}
_new = object.__new__
_STATE = ("_data", "_version", "_hooks", "name", "grad", "creator", "generation", "requires_grad")


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

    # _data: the plain array every op reads; _view: the TrackedArray ``data`` hands out,
    # made on first use; _version: writes counted so far; _hooks: None, or a _Hooks;
    # _tangents: forward mode's {level: tangent} (core/forward.py), unset until one arrives.
    __slots__ = ("_data", "_view", "_version", "_hooks", "name", "grad", "creator",
                 "generation", "requires_grad", "_tangents", "__weakref__")
    __array_ufunc__ = None  # `ndarray + Variable` defers to Variable.__radd__
    __array_priority__ = 200  # the same for CuPy arrays
    __hash__ = object.__hash__  # by identity, so a Variable stays a dict key beside __eq__

    def __init__(self, data, name=None, requires_grad=True):
        if isinstance(data, Variable):
            raise TypeError("Variable: data is already a Variable (use it directly, or .data)")
        self._data = data if type(data) is np.ndarray else as_array(data)
        self._version = 0
        self._hooks = None
        if type(data) is TrackedArray and data._owners:  # Variable(x.data): writes reach x too
            owners = [ref() for ref in data._owners]
            self._view = track(self._data, [self] + [o for o in owners if o is not None])
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
        y._data = data
        y._version = 0
        y.name = y.grad = y.creator = y._hooks = None
        y.generation = 0
        y.requires_grad = False
        return y

    def constant(self, value):
        """``value`` as a Variable that needs no gradient, in the dtype this one gives it."""
        if type(value) is np.ndarray:  # kept as it is: forward promotes as NumPy does
            return self._derived(value)
        if isinstance(value, Variable):
            return value
        return self._derived(as_array(value, like=self._data))

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
        """A new leaf sharing this Variable's data, cut from the graph.

        Writes through the new one's ``data`` count as writes into this one too, so
        a backward that reads this one still notices them (as PyTorch's detach).
        """
        return Variable(self.data, requires_grad=False)

    @property
    def data(self):
        """The array. Writes through it count: they bump ``_version`` (see core/tracked.py).

        Assigning ``x.data = array`` counts as a write too. A backward that reads a
        Variable written after the forward pass raises instead of computing a wrong
        gradient. Writes through arrays chainrule never handed out are not seen.
        """
        try:
            return self._view
        except AttributeError:
            data = self._data
            view = self._view = track(data, (self,)) if type(data) is np.ndarray else data
            return view

    @data.setter
    def data(self, value):
        try:
            if value is self._view:  # `x.data += 1`: counted already, by the write itself
                return
        except AttributeError:
            pass
        self._data = value if type(value) is np.ndarray else as_array(plain(value))
        self._count_write()
        try:
            del self._view
        except AttributeError:
            pass

    def __getstate__(self):  # copy and pickle without the cached view of the old array
        return None, {k: getattr(self, k) for k in _STATE if hasattr(self, k)}

    @property
    def is_leaf(self):
        """True for a Variable no recorded Function made (inputs, weights, constants)."""
        return self.creator is None

    @property
    def grad_fn(self):
        """The Function that made this Variable (PyTorch's name for ``creator``), or None."""
        return self.creator

    def requires_grad_(self, requires_grad=True):
        """Set whether backward computes this leaf's gradient; returns self (PyTorch's spelling)."""
        if self.creator is not None and not requires_grad:
            raise RuntimeError(
                f"requires_grad_: only a leaf's flag can be switched off; this Variable was made "
                f"by {self.creator.name} (use detach() for a copy outside the graph)")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep this intermediate's gradient in ``.grad`` after backward (accumulating, as a
        leaf's). Leaves keep theirs anyway."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this Variable does not need a gradient")
        if self.creator is not None:
            self._hook_table().retain = True

    @property
    def retains_grad(self):
        return self.creator is not None and self._hooks is not None and self._hooks.retain

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this Variable's gradient during backward, summed over the pass.

        A hook that returns a Variable or array replaces the gradient: that is what
        flows on (and, on a leaf, what lands in ``.grad``). Returns a handle whose
        ``remove()`` takes the hook away::

            handle = h.register_hook(lambda g: g * 0.5)
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: this Variable does not need a gradient")
        handle = HookHandle(self)
        self._hook_table().fns[handle] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` once per backward pass, when this leaf's ``.grad`` is final.

        Final means every gradient the pass hands this leaf has been added in; the hook
        runs while the rest of backward goes on, as ``torch.Tensor``'s hook of this name.
        Data-parallel training starts averaging a parameter's gradient from here
        (``chainrule.distributed``). Returns a handle whose ``remove()`` takes it away.
        """
        if self.creator is not None or not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: only a leaf that needs a "
                               "gradient has one to accumulate")
        handle = HookHandle(self)
        self._hook_table().after[handle] = hook
        return handle

    def _hook_table(self):
        if self._hooks is None:
            self._hooks = _Hooks()
        return self._hooks

    def clone(self):
        """A copy with its own buffer that stays in the graph: gradients flow back to this one."""
        return ops.copy(self)

    def __setitem__(self, index, value):
        """``x[index] = value`` in place, where PyTorch allows it: on a Variable that needs no
        gradient, or on a leaf under ``no_grad()`` (an optimizer's kind of update)."""
        if self.requires_grad and (self.creator is not None or grad_mode.enabled):
            who = f"{self.name!r}" if self.name else f"of shape {self.shape}"
            where = "under no_grad() on a leaf" if self.creator is None else "on a detach()ed copy"
            raise RuntimeError(
                f"setitem: the Variable {who} needs a gradient, so assigning into it would "
                f"break backward; assign {where}, or into x.data")
        view = self.data
        view[index] = value._data if isinstance(value, Variable) else value
        if view is self._data:  # untracked (CuPy) data: count the write here
            self._count_write()

    def _count_write(self):
        """Bump the version; if this is a Function's kept output, have its backward check it."""
        self._version += 1
        if self.creator is not None:
            self.creator.output_written()

    # ---- array facts ----------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def T(self):
        return ops.transpose(self)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        body = np.array2string(self.numpy(), prefix="variable(", separator=", ")
        name = f", name={self.name!r}" if self.name else ""
        return f"variable({body}{name})"

    def item(self):
        return self._data.item()

    # ---- as a NumPy array would convert --------------------------------------
    def __array__(self, dtype=None, copy=None):
        """``np.asarray(v)``: the data (a view, not an object array); ufuncs still refuse."""
        data = self.numpy()
        if dtype is not None and data.dtype != dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def __bool__(self):
        return bool(self._data)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def numpy(self):
        """The data as a NumPy array (copied from the GPU when it lives there)."""
        xp = get_array_module(self._data)
        return self._data if xp is np else xp.asnumpy(self._data)

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
            index = index._data
        return indexing.get_item(self, index)

    # ---- operators --------------------------------------------------------
    # A Python number or a NumPy array takes a one-input op that keeps it as a setting
    # (scalar_ops.ScalarOp: cheaper, and no gradient is computed for it); anything else is
    # lifted to a constant by Function.__call__.
    def __add__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.AddScalar(other)(self)
        return ops.Add()(self, other)

    def __radd__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.AddScalar(other)(self)
        return ops.Add()(other, self)

    def __sub__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.SubScalar(other)(self)
        return ops.Sub()(self, other)

    def __rsub__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.RSubScalar(other)(self)
        return ops.Sub()(other, self)

    def __mul__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.MulScalar(other)(self)
        return ops.Mul()(self, other)

    def __rmul__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.MulScalar(other)(self)
        return ops.Mul()(other, self)

    def __truediv__(self, other):
        if type(other) in _CONSTANTS:
            return scalar_ops.DivScalar(other)(self)
        return ops.Div()(self, other)

    def __rtruediv__(self, other):
        return ops.Div()(other, self)

    def __pow__(self, other):
        if type(other) in _NUMBERS:
            return scalar_ops.PowScalar(other)(self)
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


class _Hooks:
    """A Variable's gradient hooks in registration order, its after-hooks (a leaf's
    gradient is final), and whether it retains its grad."""

    __slots__ = ("fns", "after", "retain")

    def __init__(self):
        self.fns = {}  # HookHandle -> hook
        self.after = {}  # HookHandle -> hook(variable), see register_post_accumulate_grad_hook
        self.retain = False


class HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook away again."""

    __slots__ = ("_variable",)

    def __init__(self, variable):
        self._variable = weakref.ref(variable)

    def remove(self):
        x = self._variable()
        if x is not None and x._hooks is not None:
            x._hooks.fns.pop(self, None)
            x._hooks.after.pop(self, None)
            if not x._hooks.fns and not x._hooks.after and not x._hooks.retain:
                x._hooks = None


def as_variable(obj):
    """``obj`` itself if it is a Variable, else a new Variable that needs no gradient."""
    if isinstance(obj, Variable):
        return obj
    return Variable(obj, requires_grad=False)
