"""Function transforms, named and shaped like torch.func: vmap (and checkpointing).

    from chainrule import func
    per_sample = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, x, t)
"""

from chainrule.func.checkpoint import checkpoint
from chainrule.func.vmap import vmap

__all__ = ["checkpoint", "vmap"]
