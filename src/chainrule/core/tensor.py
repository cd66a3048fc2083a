"""Variable's array methods, spelled as PyTorch and NumPy users write them.

``x.mean(dim=1, keepdim=True)``, ``x.view(x.size(0), -1)``, ``(x > 0).float()``,
``x.softmax(-1)``, ``x.max(axis=0)``: every method here calls a Function from core
(``ops``, ``elementwise``, ``reductions``, ``shapes``), the same one ``chainrule.functions``
uses, so ``x.exp()`` and ``F.exp(x)`` are one operation. ``Variable`` takes these methods
by inheriting ``TensorMethods``; the graph itself (backward, creator, grad) is in
``core/variable.py``.
"""

import operator

import numpy as np

from chainrule.backend import device_of, parse_device
from chainrule.core import elementwise, ops, reductions, shapes
from chainrule.core.aliases import either
from chainrule.core.function import user_line


def _sizes(args):
    """``f(2, 3)`` and ``f((2, 3))`` alike: the tuple of sizes."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


class TensorMethods:
    """The methods of ``Variable`` that PyTorch's tensors and NumPy's arrays have."""

    __slots__ = ()

    # ---- comparisons: boolean Variables that need no gradient ----------------
    # Variable keeps hashing by identity (its __hash__), so Variables remain dict keys
    # and set members (the engine keys its bookkeeping by Variable) although == is
    # elementwise. `x in a_list` compares with ==, as for PyTorch's tensors: use `is`.

    def _compare(self, other, compare, symbol):
        if other is None or isinstance(other, (str, bytes, dict, set)):
            return NotImplemented  # x == None is False, as for any other object
        other = other._data if isinstance(other, TensorMethods) else other
        try:
            return self._derived(compare(self._data, other))
        except ValueError:
            shape = getattr(other, "shape", None) or np.shape(other)
            raise ValueError(f"{symbol}: shapes {self._data.shape} and {shape} do not "
                             f"broadcast{user_line()}") from None

    def __lt__(self, other):
        return self._compare(other, operator.lt, "<")

    def __le__(self, other):
        return self._compare(other, operator.le, "<=")

    def __gt__(self, other):
        return self._compare(other, operator.gt, ">")

    def __ge__(self, other):
        return self._compare(other, operator.ge, ">=")

    def __eq__(self, other):
        return self._compare(other, operator.eq, "==")

    def __ne__(self, other):
        return self._compare(other, operator.ne, "!=")

    # ---- reductions ---------------------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Σ over ``axis`` (PyTorch's ``dim``); ``keepdims`` (``keepdim``) keeps it as length 1."""
        return reductions.sum(self, axis, keepdims, dim, keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The mean over ``axis`` (PyTorch's ``dim``), as ``x.sum(...) / n``."""
        return reductions.mean(self, axis, keepdims, dim, keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The largest element over ``axis``: NumPy's values, or PyTorch's pair.

        ``x.max(axis=1)`` / ``x.max(1)``: the values, tied extremes sharing the gradient
        (like ``torch.amax``). ``x.max(dim=1)`` / ``x.max(1, keepdim=True)``:
        ``(values, indices)`` as ``torch.max`` returns, the gradient to the indexed element.
        """
        return reductions.extreme("max", self, axis, keepdims, dim, keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The smallest element over ``axis``: values, or ``(values, indices)`` (see ``max``)."""
        return reductions.extreme("min", self, axis, keepdims, dim, keepdim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the largest element over ``axis`` (None: flattened); needs no gradient."""
        return reductions.arg("max", self, axis, keepdims, dim, keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the smallest element over ``axis`` (None: flattened); needs no gradient."""
        return reductions.arg("min", self, axis, keepdims, dim, keepdim)

    def softmax(self, axis=-1, *, dim=None):
        """Softmax along ``axis`` (PyTorch's ``dim``); each slice sums to 1."""
        return reductions.softmax(self, axis, dim)

    def log_softmax(self, axis=-1, *, dim=None):
        """log(softmax(x)) along ``axis`` (PyTorch's ``dim``), computed stably."""
        return reductions.log_softmax(self, axis, dim)

    def any(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Whether any element is true (nonzero) over ``axis``: a boolean Variable."""
        axis, keepdims = reductions.axis_and_keepdims("any", self, axis, keepdims, dim, keepdim)
        return self._derived(self._data.any(axis=axis, keepdims=keepdims))

    def all(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Whether every element is true (nonzero) over ``axis``: a boolean Variable."""
        axis, keepdims = reductions.axis_and_keepdims("all", self, axis, keepdims, dim, keepdim)
        return self._derived(self._data.all(axis=axis, keepdims=keepdims))

    # ---- elementwise --------------------------------------------------------
    def exp(self):
        return elementwise.Exp()(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return elementwise.Sqrt()(self)

    def abs(self):
        """|x|, with the gradient 0 at 0 as in PyTorch."""
        return elementwise.Abs()(self)

    def tanh(self):
        return elementwise.Tanh()(self)

    def sigmoid(self):
        return elementwise.Sigmoid()(self)

    def relu(self):
        """max(x, 0), with the gradient 0 at 0 as in PyTorch."""
        return elementwise.ReLU()(self)

    def pow(self, exponent):
        return self**exponent

    def clip(self, min=None, max=None):
        """x limited to [min, max] (either may be None); the gradient passes at the bounds."""
        return elementwise.Clip(min, max)(self)

    clamp = clip

    # ---- shapes -------------------------------------------------------------
    def view(self, *shape):
        """x with a new shape (one entry may be -1): ``x.view(x.size(0), -1)``.

        The data is shared when NumPy can, as ``reshape`` does; there is no contiguity
        requirement as in PyTorch.
        """
        return self.reshape(*shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Axes ``start_dim`` to ``end_dim`` joined into one, as ``torch.flatten``."""
        return shapes.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim):
        """A new axis of length 1 at ``dim``."""
        return shapes.unsqueeze(self, dim)

    def squeeze(self, axis=None, *, dim=None):
        """Axes of length 1 removed: ``axis`` (``dim``) or, when None, all of them."""
        return shapes.squeeze(self, either("squeeze", axis=axis, dim=dim))

    def transpose(self, *axes):
        """Axes reordered, as NumPy and PyTorch both write it.

        ``x.transpose()`` reverses the axes and ``x.transpose((2, 0, 1))`` (or three ints)
        permutes them, as in NumPy; two ints, ``x.transpose(1, 2)``, swap those two axes,
        as PyTorch's ``transpose(dim0, dim1)`` (on a 2-D x, NumPy reads ``(1, 0)`` the same).
        """
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return shapes.transpose(self, axes[0], axes[1])
        return shapes.transpose(self, _sizes(axes) or None)

    def t(self):
        """The transpose of a matrix (a vector stays as it is), as PyTorch's ``x.t()``."""
        if self._data.ndim > 2:
            raise ValueError(f"t: expects at most 2 axes, got shape {self._data.shape} "
                             "(use transpose(dim0, dim1) or permute)")
        return self if self._data.ndim < 2 else shapes.transpose(self)

    def permute(self, *dims):
        """The axes reordered: ``x.permute(0, 2, 1)``."""
        return shapes.permute(self, _sizes(dims))

    def expand(self, *sizes):
        """x broadcast to ``sizes``, -1 keeping an axis as it is: ``x.expand(4, -1)``."""
        return shapes.expand(self, _sizes(sizes))

    # ---- dtype and device ---------------------------------------------------
    def astype(self, dtype):
        """x as ``dtype``: differentiable to a float dtype, a plain result to any other."""
        dtype = np.dtype(dtype)
        if dtype == self._data.dtype:
            return self
        if dtype.kind in "fc" and self._data.dtype.kind in "fc":
            return ops.cast(self, dtype)
        return self._derived(self._data.astype(dtype))

    def float(self):
        """x as float32 (PyTorch's ``float()``): ``(x > 0).float()``."""
        return self.astype(np.float32)

    def double(self):
        """x as float64."""
        return self.astype(np.float64)

    def long(self):
        """x as int64, a plain result (no gradient): ``t.long()`` for class labels."""
        return self.astype(np.int64)

    def cpu(self):
        """x on the CPU (NumPy), as PyTorch's ``x.cpu()``; x itself when it is there already."""
        return self.to(device="cpu")

    def cuda(self, index=0):
        """x on GPU ``index`` (CuPy, the ``[gpu]`` extra), as PyTorch's ``x.cuda()``."""
        return self.to(device=f"cuda:{index}")

    def to(self, target=None, *, dtype=None, device=None):
        """x on another device (``'cpu'``, ``'cuda'``, ``'cuda:1'``) and/or in another dtype.

        ``x.to("cuda")``, ``x.to(np.float64)``, ``x.to(device="cpu", dtype="float32")``;
        the copy is differentiable, its gradient comes back to x's device and dtype.
        """
        if isinstance(target, str) and not _is_dtype_name(target):
            device = either("to", device=device, target=target)
        elif target is not None:
            dtype = either("to", dtype=dtype, target=target)
        x = self
        if device is not None:
            kind, index = parse_device(device)  # a bad name fails here, before any copy
            device = "cpu" if kind == "cpu" else f"cuda:{index}"
            if device != device_of(x._data):
                x = elementwise.ToDevice(device)(x)
        return x if dtype is None else x.astype(dtype)

    # ---- facts --------------------------------------------------------------
    @property
    def size(self):
        """The element count as DeZero and NumPy read it (``x.size``), callable as
        PyTorch's ``x.size()`` (the shape) and ``x.size(0)`` (the length of an axis)."""
        return Size(self._data.shape)

    def numel(self):
        """The number of elements."""
        return int(self._data.size)

    def dim(self):
        """The number of axes (``ndim``)."""
        return self._data.ndim

    def tolist(self):
        """The data as (nested) Python lists of Python numbers."""
        return self.numpy().tolist()


class Size(int):
    """An element count that is also PyTorch's ``size`` method: both habits read right.

    ``x.size == 6`` and ``x.size * 2`` as for a NumPy array; ``x.size()`` gives the
    shape and ``x.size(1)`` one axis, as for a PyTorch tensor. NumPy promotes an int
    subclass as a strong int64 (float32 / Size would be float64), so ``as_array`` lifts
    a Size as the Python int it is: ``x / x.size`` keeps x's dtype. In plain NumPy
    arithmetic write ``int(x.size)`` or ``x.numel()``.
    """

    def __new__(cls, shape):
        count = 1
        for n in shape:
            count *= n
        size = super().__new__(cls, count)
        size.shape = tuple(shape)
        return size

    def __call__(self, dim=None):
        return self.shape if dim is None else self.shape[dim]


def _is_dtype_name(text):
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True
