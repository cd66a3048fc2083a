"""Parameter: the Variable a Module registers as a weight and an optimizer updates."""

import numpy as np

from chainrule.backend import get_array_module
from chainrule.core import Variable


class Parameter(Variable):
    """A Variable that a Module registers by assignment: float32 and requiring grad by default.

    Floating data other than float64 keeps its dtype; float64, integer and boolean data
    become float32 unless ``dtype`` says otherwise, so a model built from NumPy's default
    arrays trains in float32 as in PyTorch. The array is shared, not copied, when no cast
    is needed.

    >>> W = Parameter(np.zeros((2, 3)))
    >>> W.dtype, W.requires_grad
    (dtype('float32'), True)
    """

    __slots__ = ()

    def __init__(self, data, name=None, dtype=None, requires_grad=True):
        if isinstance(data, Variable):
            data = data.data
        xp = get_array_module(data)
        array = xp.asarray(data)
        if dtype is None and (array.dtype.kind in "biu" or array.dtype == np.float64):
            dtype = np.float32
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        super().__init__(array, name=name, requires_grad=requires_grad)

    def __repr__(self):
        body = np.array2string(self.numpy(), prefix="Parameter(", separator=", ")
        dtype = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        name = f", name={self.name!r}" if self.name else ""
        return f"Parameter({body}{dtype}{name})"
