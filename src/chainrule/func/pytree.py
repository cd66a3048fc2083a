"""Nested arguments: the Variables at the leaves of tuples, lists and dicts, and back.

The transforms take and return such nests as ``torch.func`` does (a dict of parameters,
a tuple of states): ``flatten`` lists the leaves in a fixed order (dicts by insertion),
and the function it returns builds the same nest around new leaves.
"""


def flatten(tree):
    """``(leaves, rebuild)``: the non-container values of ``tree``, and ``rebuild(new_leaves)``.

    >>> leaves, rebuild = flatten({"w": 1, "b": (2, 3)})
    >>> leaves
    [1, 2, 3]
    >>> rebuild([10, 20, 30])
    {'w': 10, 'b': (20, 30)}
    """
    leaves = []
    spec = _describe(tree, leaves)
    return leaves, lambda new: _build(spec, iter(new))


def _describe(tree, leaves):
    if isinstance(tree, dict):
        return (dict, [(key, _describe(value, leaves)) for key, value in tree.items()])
    if isinstance(tree, (tuple, list)):  # a named tuple keeps its type too
        return (type(tree), [_describe(value, leaves) for value in tree])
    leaves.append(tree)
    return None


def _build(spec, leaves):
    if spec is None:
        return next(leaves)
    kind, children = spec
    if kind is dict:
        return {key: _build(child, leaves) for key, child in children}
    values = [_build(child, leaves) for child in children]
    if hasattr(kind, "_fields"):
        return kind(*values)
    return kind(values)


def leaves_of(tree):
    """The leaves alone."""
    return flatten(tree)[0]
