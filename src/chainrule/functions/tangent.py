"""What the tangent rules of ``chainrule.functions`` share: the sum of the terms the inputs'
tangents contribute, where an input without a tangent (None) contributes nothing.

A rule of several inputs is a sum over the inputs that carry a tangent, dy = Σᵢ ∂y/∂xᵢ dxᵢ;
``total`` adds the present terms, so a rule builds no product for an absent one.
"""

from chainrule.core import ops


def total(*terms, shape=None):
    """The sum of the terms that are not None (None when every one is), broadcast to ``shape``
    when given (a bias's tangent alone has the bias's shape, not the output's)."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    result = present[0]
    for t in present[1:]:
        result = result + t
    if shape is not None and result.shape != tuple(shape):
        result = ops.broadcast_to(result, tuple(shape))
    return result
