"""PyTorch's keyword spellings beside chainrule's own (``dim`` for ``axis``, ``keepdim`` for
``keepdims``, ``correction`` for ``ddof``): one helper, so every op resolves them alike."""


def either(op, name, value, alias, alias_value, default=None):
    """``value`` (keyword ``name``) or ``alias_value`` (keyword ``alias``), whichever was given.

    Both given with different values is a user error naming the op and the two keywords.
    """
    if alias_value is None:
        return value
    if value is not None and value != default and value != alias_value:
        raise TypeError(f"{op}: got both {name}={value!r} and {alias}={alias_value!r}; "
                        f"pass one of them")
    return alias_value
