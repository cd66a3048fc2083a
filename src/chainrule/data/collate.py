"""collate: a list of examples into one batch, as torch's ``default_collate`` does, in NumPy."""

from collections.abc import Mapping

import numpy as np


def collate(samples):
    """Stack a list of examples into one batch, keeping the examples' structure.

    Each example is an array, a number, a tuple (or named tuple), a list or a dict of
    those, nested as deep as you like; the batch has the same structure with every leaf
    stacked along a new first axis, as ``torch.utils.data.default_collate``:

        [(x_0, t_0), ..., (x_{B-1}, t_{B-1})]  ->  (X, T),  X[i] = x_i,  X: (B, *x.shape)
        [{"x": x_0, "t": t_0}, ...]             ->  {"x": X, "t": T}

    Python floats become float64, ints int64 (NumPy's defaults, as torch's); strings
    stay a list. Tuples stay tuples (torch gives lists; both unpack alike).

    >>> x, t = collate([(np.zeros(2), 1), (np.ones(2), 0)])
    >>> x.shape, t.tolist()
    ((2, 2), [1, 0])
    """
    if len(samples) == 0:
        raise ValueError("collate: got an empty list of samples; a batch needs at least one")
    first = samples[0]
    if isinstance(first, Mapping):
        return {key: collate([_field(s, key) for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        sizes = sorted({len(s) for s in samples})
        if len(sizes) > 1:
            raise ValueError(f"collate: examples have {sizes[0]} and {sizes[-1]} fields; "
                             "every example of a batch needs the same number")
        fields = [collate(list(column)) for column in zip(*samples)]
        if hasattr(first, "_fields"):  # a named tuple keeps its type
            return type(first)(*fields)
        return tuple(fields) if isinstance(first, tuple) else fields
    if isinstance(first, (str, bytes)):
        return list(samples)
    arrays = [np.asarray(s) for s in samples]
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise ValueError(f"collate: examples of shapes {shapes[0]} and {shapes[-1]} do not "
                         "stack; pad them or pass DataLoader(collate_fn=...)")
    return np.stack(arrays)


def _field(sample, key):
    try:
        return sample[key]
    except KeyError:
        message = f"collate: an example lacks the key {key!r} that the first one has"
        raise KeyError(message) from None
