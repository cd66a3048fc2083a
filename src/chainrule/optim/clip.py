"""Gradient clipping by the total norm of all gradients."""

from chainrule.backend import get_array_module
from chainrule.core import Variable


def clip_grad_norm(params, max_norm, norm_type=2.0):
    """Scale the gradients of ``params`` so that their total norm is at most ``max_norm``.

        total = || (||g_1||_p, ..., ||g_n||_p) ||_p     (p = norm_type, inf allowed)
        g_i <- g_i * min(1, max_norm / (total + 1e-6))

    As ``torch.nn.utils.clip_grad_norm_``: parameters without a gradient are left
    out; returns the total norm before clipping, as a Python float (0.0 when no
    parameter has a gradient). Each gradient gets a new scaled array, because the
    engine may share one gradient array among several Variables.

    >>> loss.backward()
    >>> clip_grad_norm(model.parameters(), max_norm=1.0)
    """
    params = [params] if isinstance(params, Variable) else list(params)
    norm_type = float(norm_type)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    xp = get_array_module(grads[0].data)
    # the plain arrays (_data): reading through the tracked views costs NumPy dispatch
    if norm_type == 2.0:  # one dot product per gradient (linalg.norm's own path, less its checks)
        total = float(sum(float(xp.dot(v, v)) for v in (g._data.ravel() for g in grads))) ** 0.5
    else:
        norms = xp.stack([xp.linalg.norm(g._data.ravel(), norm_type) for g in grads])
        total = float(xp.linalg.norm(norms, norm_type))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        scaled = set()
        for g in grads:
            if id(g) not in scaled:  # one grad Variable may be the .grad of several params
                scaled.add(id(g))
                g.data = g._data * scale
    return total


def clip_grad_value(params, clip_value):
    """Clamp every gradient element of ``params`` into ``[-clip_value, clip_value]``.

    As ``torch.nn.utils.clip_grad_value_``; parameters without a gradient are left out.
    Each gradient gets a new array, as in ``clip_grad_norm``.
    """
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value: clip_value must be non-negative, got {clip_value}")
    params = [params] if isinstance(params, Variable) else list(params)
    clipped = set()
    for p in params:
        if p.grad is not None and id(p.grad) not in clipped:
            clipped.add(id(p.grad))
            p.grad.data = get_array_module(p.grad.data).clip(p.grad.data, -clip_value,
                                                             clip_value)
