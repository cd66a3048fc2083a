"""PyTorch's keyword names beside chainrule's own: ``dim`` for ``axis``, ``padding`` for ``pad``.

chainrule keeps NumPy's and the book's names and accepts PyTorch's as well, the way
PyTorch accepts ``axis=`` beside ``dim=``. Every function that takes such a pair
resolves it with :func:`either`, so the rule and its error live in one place.
"""


def either(op, default=None, **pair):
    """The value of a keyword given under our name or PyTorch's; an error when they disagree.

    ``pair`` is exactly two keywords, ours first: ``either("sum", axis=axis, dim=dim)``.
    PyTorch's name counts as given when it is not None; ours when it differs from
    ``default``. Both given with different values is a TypeError naming ``op``.

    >>> either("sum", axis=None, dim=1)
    1
    >>> either("sum", keepdims=False, keepdim=True, default=False)
    True
    """
    (ours, value), (theirs, alias) = pair.items()
    if alias is None:
        return value
    if value != default and value != alias:
        raise TypeError(f"{op}: got {ours}={value!r} and {theirs}={alias!r}; pass only one")
    return alias
