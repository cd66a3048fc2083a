"""What saving, loading and moving modules share: a module's own state, one error for keys
that do not fit, plain arrays out of Variables, host copies, loads that keep the target's
dtype and device, and dtype names read leniently."""

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


def own_state(module):
    """``(name, value)`` of a module's own parameters, then its persistent buffers: what
    ``state_dict`` saves of it (None values skipped)."""
    for name, value in module._parameters.items():
        if value is not None:
            yield name, value
    for name, value in module._buffers.items():
        if value is not None and name not in module._transient:
            yield name, value


def check_keys(owner, missing, unexpected, misshaped, strict):
    """One ValueError listing every missing, unexpected and mis-shaped key (the first two
    only when ``strict``), or nothing when the keys fit."""
    problems = []
    if strict and missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if strict and unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected)}")
    if misshaped:
        problems.append(f"mis-shaped keys: {', '.join(misshaped)}")
    if problems:
        raise ValueError(f"{owner}: {'; '.join(problems)}")
