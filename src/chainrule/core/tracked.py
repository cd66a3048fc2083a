"""TrackedArray: what ``Variable.data`` returns, a NumPy view that counts writes into it.

A Function whose backward reads its inputs records their versions when it is
called; backward refuses to run on an input written since (PyTorch's
``_version``). Writes go through ``x.data`` and are seen here: item and slice
assignment, in-place operators (``x.data -= lr * g``, as every optimizer does),
ufuncs with ``out=``, ``fill``, ``sort``, ``np.copyto`` and NumPy's other
in-place functions. Views taken from ``x.data`` (``x.data[0]``, ``x.data.T``)
count as well.

Not seen, and so the user's responsibility: writes through an array chainrule
never handed out (``np.asarray(x.data)``, ``x.data.view(np.ndarray)``, the array
a Variable was built from) and CuPy arrays, which ``data`` returns untracked.

Results never carry the subclass: ufuncs and NumPy functions get plain arrays
(the hot path of every op reads the plain array directly, never this view).
"""

import weakref

import numpy as np

# NumPy functions that write into their first argument.
_WRITERS = frozenset(
    getattr(np, name) for name in
    ("copyto", "put", "putmask", "place", "fill_diagonal", "put_along_axis")
    if hasattr(np, name)
)


def track(array, owners):
    """A view of the ndarray ``array`` whose writes bump each Variable in ``owners``."""
    view = array.view(TrackedArray)
    view._owners = tuple(weakref.ref(owner) for owner in owners)
    return view


def plain(array):
    """``array`` as a plain ndarray view when it is tracked, else unchanged."""
    return array.view(np.ndarray) if isinstance(array, TrackedArray) else array


def _untracked_copy(array):
    """A result that shares no memory with a Variable's data, as a plain ndarray."""
    if isinstance(array, TrackedArray) and not array._owners:
        return array.view(np.ndarray)
    return array


class TrackedArray(np.ndarray):
    """An ndarray view over a Variable's data that bumps the Variable's version on writes."""

    _owners = ()  # weak references to the Variables whose data this views

    def __array_finalize__(self, obj):
        # A view of a tracked array writes into the same memory: it counts too.
        # A copy (fancy indexing, .copy(), astype) is the user's own array.
        owners = getattr(obj, "_owners", ())
        self._owners = owners if owners and np.may_share_memory(self, obj) else ()

    def _bump(self):
        for ref in self._owners:
            owner = ref()
            if owner is not None and np.may_share_memory(self, owner._data):
                owner._count_write()

    def __setitem__(self, index, value):
        super().__setitem__(index, value)
        self._bump()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(plain(o) for o in out)
        result = getattr(ufunc, method)(*[plain(x) for x in inputs], **kwargs)
        written = out if out is not None else inputs[:1] if method == "at" else ()
        for array in written:
            if isinstance(array, TrackedArray):
                array._bump()
        if out is not None:  # as NumPy: the out array itself, so `a += 1` keeps `a`
            return out[0] if len(out) == 1 else out
        return result

    def __array_function__(self, func, types, args, kwargs):
        result = super().__array_function__(func, types, args, kwargs)
        if func in _WRITERS and isinstance(args[0] if args else None, TrackedArray):
            args[0]._bump()
        if isinstance(result, (tuple, list)):
            return type(result)(_untracked_copy(r) for r in result)
        return _untracked_copy(result)

    def fill(self, value):
        self.view(np.ndarray).fill(value)
        self._bump()

    def sort(self, *args, **kwargs):
        self.view(np.ndarray).sort(*args, **kwargs)
        self._bump()

    def copy(self, order="C"):
        return self.view(np.ndarray).copy(order)

    def astype(self, *args, **kwargs):
        return self.view(np.ndarray).astype(*args, **kwargs)

    def __repr__(self):
        return repr(self.view(np.ndarray))

    def __reduce__(self):  # pickles, and deep-copies, as the plain array it views
        return self.view(np.ndarray).__reduce__()
