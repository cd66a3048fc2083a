"""What the tangent rules of ``chainrule.functions`` share: the sum of the terms the inputs'
tangents contribute, where an input without a tangent (None) contributes nothing.

A rule of several inputs is a sum over the inputs that carry a tangent, dy = Σᵢ ∂y/∂xᵢ dxᵢ;
``total`` adds the present terms, so a rule builds no product for an absent one. A sum of
a bias's tangent alone keeps the bias's shape: forward mode broadcasts it to the output's.
"""


def total(*terms):
    """The sum of the terms that are not None; None (a zero tangent) when every one is."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    result = present[0]
    for t in present[1:]:
        result = result + t
    return result
