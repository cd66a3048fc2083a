"""Function transforms, named and shaped as ``torch.func``: derivatives of Python functions.

Each takes a function of Variables and returns a new function (or computes at once):

- ``grad(f)``, ``grad_and_value(f)``: the gradient of a function returning one number;
- ``vjp(f, *primals)``: ``(out, vjp_fn)``, uᵀJ for any cotangent u (reverse mode);
- ``jvp(f, primals, tangents)``: ``(out, tangent_out)``, J·v in one pass (forward mode);
- ``jacrev(f)``, ``jacfwd(f)``: the Jacobian by rows (reverse) or by columns (forward);
- ``hessian(f)`` (jacfwd over jacrev) and ``hvp(f, primals, tangents)`` (jvp over grad);
- ``vmap(f, in_dims, out_dims)``: f of one sample made f of a batch, every op batched
  (``vmap(grad(loss), in_dims=(None, 0, 0))``: per-sample gradients);
- ``checkpoint(fn, *args)`` (also ``chainrule.checkpoint``): fn's activations recomputed
  in backward instead of kept;
- ``functional_call(module, params, args)``: a module run with the given parameters in
  place of its own, so a model's parameters can be an argument of the transforms.

``argnums`` picks the arguments to differentiate (an int or a tuple), ``has_aux=True``
lets f return ``(output, aux)``. Arguments may be Variables, arrays, or tuples, lists
and dicts of them. Transforms nest: ``grad(grad(f))``, ``jacfwd(jacrev(f))``.

>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule import func
>>> func.grad(lambda x: (x ** 3).sum())(cr.Variable(np.array([1.0, 2.0])))
variable([ 3., 12.])
"""

from chainrule.func.checkpoint import checkpoint
from chainrule.func.forward import hessian, hvp, jacfwd, jvp
from chainrule.func.functional_call import functional_call
from chainrule.func.reverse import grad, grad_and_value, jacrev, vjp
from chainrule.func.vmap import vmap

__all__ = ["checkpoint", "functional_call", "grad", "grad_and_value", "hessian", "hvp", "jacfwd",
           "jacrev", "jvp", "vjp", "vmap"]
