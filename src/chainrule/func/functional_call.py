"""functional_call: a module run as a function of its parameters, as ``torch.func.functional_call``.

The transforms differentiate arguments, and a module's parameters are attributes, not
arguments. ``functional_call(model, params, (x,))`` runs ``model(x)`` with ``params`` (a
dict of dotted names, as ``named_parameters()`` gives them) standing in for the module's
own parameters and buffers, then puts the originals back, so per-sample gradients of a
model read as those of a function::

    params = dict(model.named_parameters())
    loss = lambda p, x, t: F.cross_entropy(functional_call(model, p, (x[None],)), t[None])
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, xs, ts)
"""

from contextlib import contextmanager


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the given parameters and buffers in place of its own.

    ``parameter_and_buffer_dicts``: a dict ``{dotted name: Variable or array}``, or a tuple of
    dicts with distinct keys. Names not given keep the module's own values. A parameter the
    module shares under several names (tied weights) takes the value given for any of them,
    unless ``tie_weights=False``. ``strict=True`` requires exactly the module's names.
    ``args`` is one argument or a tuple of them. The module is restored even when the call
    raises.
    """
    values = _merged(parameter_and_buffer_dicts)
    if not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def _merged(dicts):
    if isinstance(dicts, dict):
        return dict(dicts)
    merged = {}
    for d in dicts:
        overlap = merged.keys() & d.keys()
        if overlap:
            raise ValueError(f"functional_call: {sorted(overlap)} given in more than one dict")
        merged.update(d)
    return merged


@contextmanager
def _swapped(module, values, tie_weights, strict):
    slots = list(module._state_items())  # (dotted name, owner, attribute), shared ones repeated
    known = {name for name, _, _ in slots}
    unexpected = sorted(values.keys() - known)
    missing = sorted(known - values.keys())
    owner = type(module).__name__
    if unexpected:
        raise KeyError(f"functional_call: {owner} has no parameter or buffer named "
                       f"{', '.join(map(repr, unexpected))}")
    if strict and missing:
        raise KeyError(f"functional_call: strict, and no value given for "
                       f"{', '.join(map(repr, missing))} of {owner}")
    by_original = {}  # a tied parameter's replacement, found through the object it replaces
    if tie_weights:
        for name, owner_module, attribute in slots:
            if name in values:
                by_original[id(getattr(owner_module, attribute))] = values[name]
    saved = []
    try:
        for name, owner_module, attribute in slots:
            original = getattr(owner_module, attribute)
            value = values[name] if name in values else by_original.get(id(original), original)
            if value is original:
                continue
            registry = ("_parameters" if attribute in owner_module._parameters else "_buffers")
            saved.append((owner_module, registry, attribute, original))
            owner_module.__dict__[registry][attribute] = value
            object.__setattr__(owner_module, attribute, value)  # not a Parameter: no checks
        yield
    finally:
        for owner_module, registry, attribute, original in reversed(saved):
            owner_module.__dict__[registry][attribute] = original
            object.__setattr__(owner_module, attribute, original)
