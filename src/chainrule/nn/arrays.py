"""Array helpers shared by saving, loading and moving modules: plain arrays out of Variables,
host copies, loads that keep the target's dtype and device, and dtype names read leniently."""

import numpy as np

from chainrule.backend import device_of, get_array_module, to_device
from chainrule.core import Variable


def floating_dtype(value, required=False):
    """A floating NumPy dtype from ``np.float64``, ``"float32"``, ``torch.float64``; else None
    (or, when ``required``, one ValueError)."""
    name = str(value).removeprefix("torch.") if not isinstance(value, type) else value
    try:
        dtype = None if str(value).lower().startswith(("cpu", "cuda")) else np.dtype(name)
    except TypeError:
        dtype = None
    if dtype is not None and dtype.kind == "f":
        return dtype
    if required:
        raise ValueError(f"Module.to: expected a floating dtype, got {value!r}")
    return None


def array_of(value):
    return value.data if isinstance(value, Variable) else value


def numpy_copy(value):
    data = array_of(value)
    if get_array_module(data) is np:
        return np.array(data, copy=True)
    return data.get()  # a CuPy array: the copy to the host is a new array already


def load_value(module, name, array):
    """Give ``module.name`` a copy of ``array`` in its own dtype, on its own device."""
    current = getattr(module, name)
    target = current.data if isinstance(current, Variable) else current
    loaded = to_device(array, device_of(target)).astype(target.dtype, copy=True)
    if isinstance(current, Variable):
        current.data = loaded
    else:
        setattr(module, name, loaded)
