"""Numerical gradients and gradient checking: the proof behind every backward and jvp rule."""

import numpy as np

from chainrule.core import Variable, grad
from chainrule.core.forward import dual_level, make_dual, unpack_dual


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def numerical_grad(fn, inputs, grad_output=None, eps=1e-6):
    """Central differences of ``sum(fn(*inputs) * grad_output)`` for each float input.

    ``inputs`` are arrays (integer ones, like indices, get ``None``). Computed in
    float64. ``fn`` takes and returns Variables, as in ``gradcheck``.
    """
    arrays = [np.array(_array(x), dtype=np.float64) if _is_float(x) else _array(x) for x in inputs]
    grads = []
    for a in arrays:
        if not _is_float(a):
            grads.append(None)
            continue
        g = np.zeros_like(a)
        for i in np.ndindex(*a.shape):
            saved = a[i]
            a[i] = saved + eps
            plus = _weighted(fn, arrays, grad_output)
            a[i] = saved - eps
            minus = _weighted(fn, arrays, grad_output)
            a[i] = saved
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def gradcheck(fn, inputs, grad_output=None, eps=1e-6, atol=1e-5, rtol=1e-4, order=1, seed=0):
    """Check ``fn``'s analytic gradients against central differences; True or raise.

    ``order=2`` also checks the gradient of the gradient (double backprop),
    through a random direction. The error names the function, the input, the
    worst element and both values::

        gradcheck(F.tanh, [np.random.randn(3, 4)], order=2)
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(_array(x), dtype=np.float64) if _is_float(x) else _array(x) for x in inputs]
    if grad_output is None:  # recorded: fn may itself differentiate (gradient penalties)
        out = fn(*[Variable(a, requires_grad=_is_float(a)) for a in arrays])
        grad_output = rng.standard_normal(np.shape(_array(out)))
    _check_first_order(fn, arrays, grad_output, eps, atol, rtol)
    if order >= 2:
        directions = [rng.standard_normal(a.shape) if _is_float(a) else None for a in arrays]
        _check_first_order(_directional_grad(fn, grad_output, directions), arrays, None,
                           eps, atol, rtol, label="the gradient of ")
    return True


def _check_first_order(fn, arrays, grad_output, eps, atol, rtol, label=""):
    variables = [Variable(a.copy(), requires_grad=_is_float(a)) for a in arrays]
    floats = [v for v in variables if v.requires_grad]
    out = fn(*variables)
    gy = np.ones(out.shape) if grad_output is None else grad_output
    analytic = grad(out, floats, grad_outputs=[Variable(gy)], allow_unused=True)
    numeric = [g for g in numerical_grad(fn, arrays, gy, eps) if g is not None]
    name = getattr(fn, "__name__", type(fn).__name__)
    for index, (a, n) in enumerate(zip(analytic, numeric)):
        a = np.zeros_like(n) if a is None else np.asarray(a.data, dtype=np.float64)
        if a.shape != n.shape:
            raise GradcheckError(
                f"gradcheck: {label}{name} input {index}: "
                f"gradient shape {a.shape}, expected {n.shape}"
            )
        error = np.abs(a - n) - (atol + rtol * np.abs(n))
        if error.size and error.max() > 0:
            worst = np.unravel_index(np.argmax(error), error.shape)
            raise GradcheckError(
                f"gradcheck: {label}{name} input {index}, element {tuple(int(i) for i in worst)}: "
                f"analytic {a[worst]:.8g} vs numerical {n[worst]:.8g} "
                f"(atol {atol}, rtol {rtol})"
            )


def jvpcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, order=1, seed=0):
    """Check ``fn``'s forward mode (its ops' jvp rules) along a random direction ẋ; True or raise.

    The tangent J ẋ is compared element by element with central differences
    (f(x + εẋ) - f(x - εẋ)) / 2ε, and with reverse mode: ⟨w, J ẋ⟩ = ⟨Jᵀw, ẋ⟩ for a
    random w. ``order=2`` checks the tangent of the gradient too (forward over reverse,
    as ``hessian`` computes), which runs the jvp rules of the backward's own ops::

        jvpcheck(F.tanh, [np.random.randn(3, 4)], order=2)
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(_array(x), dtype=np.float64) if _is_float(x) else _array(x) for x in inputs]
    directions = [rng.standard_normal(a.shape) if _is_float(a) else None for a in arrays]
    _check_tangent(fn, arrays, directions, eps, atol, rtol, rng)
    if order >= 2:
        out = fn(*[Variable(a, requires_grad=_is_float(a)) for a in arrays])
        gy = rng.standard_normal(np.shape(_array(out)))
        across = [rng.standard_normal(a.shape) if _is_float(a) else None for a in arrays]
        _check_tangent(_directional_grad(fn, gy, across), arrays, directions, eps, atol, rtol,
                       rng, label="the gradient of ")
    return True


def _check_tangent(fn, arrays, directions, eps, atol, rtol, rng, label=""):
    name = f"jvpcheck: {label}{getattr(fn, '__name__', type(fn).__name__)}"
    with dual_level():
        duals = [Variable(a.copy(), requires_grad=False) if d is None
                 else make_dual(Variable(a.copy()), d) for a, d in zip(arrays, directions)]
        out = fn(*duals)
        tangent = unpack_dual(out).tangent
    analytic = np.zeros(out.shape) if tangent is None else np.asarray(tangent.data, np.float64)
    if analytic.shape != out.shape:
        raise GradcheckError(f"{name}: tangent shape {analytic.shape}, output shape {out.shape}")
    numeric = _moved(fn, arrays, directions, eps) - _moved(fn, arrays, directions, -eps)
    numeric /= 2 * eps
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if error.size and error.max() > 0:
        worst = np.unravel_index(np.argmax(error), error.shape)
        raise GradcheckError(
            f"{name}, element {tuple(int(i) for i in worst)}: forward mode "
            f"{analytic[worst]:.8g} vs numerical {numeric[worst]:.8g} (atol {atol}, rtol {rtol})")
    variables = [Variable(a.copy(), requires_grad=_is_float(a)) for a in arrays]
    out = fn(*variables)
    w = rng.standard_normal(out.shape)
    floats = [v for v in variables if v.requires_grad]
    grads = grad(out, floats, grad_outputs=[Variable(w)], allow_unused=True)
    forward = float(np.sum(w * analytic))
    reverse = sum(float(np.sum(g.data * d)) for g, d in
                  zip(grads, [d for d in directions if d is not None]) if g is not None)
    if abs(forward - reverse) > atol * max(1, w.size) + rtol * abs(reverse):
        raise GradcheckError(
            f"{name}: ⟨w, J ẋ⟩ is {forward:.8g} from forward mode but ⟨Jᵀw, ẋ⟩ is {reverse:.8g} "
            f"from reverse mode (atol {atol} per element, rtol {rtol})")


def _moved(fn, arrays, directions, step):
    """fn at x + step·ẋ, as a float64 array."""
    moved = [a if d is None else a + step * d for a, d in zip(arrays, directions)]
    out = fn(*[Variable(a, requires_grad=_is_float(a)) for a in moved])
    return np.asarray(_array(out), dtype=np.float64)


def _directional_grad(fn, grad_output, directions):
    """x ↦ Σ_k <∂(fn(x)·gy)/∂x_k, d_k>: its gradient is a Hessian-vector product."""

    def gradient_of(*variables):
        floats = [v for v in variables if v.requires_grad]
        gs = grad(fn(*variables), floats, grad_outputs=[Variable(grad_output)],
                  create_graph=True, allow_unused=True)
        total = None
        for g, d in zip(gs, [d for d in directions if d is not None]):
            if g is not None:
                term = (g * d).sum()
                total = term if total is None else total + term
        if total is None:  # the gradient does not depend on the inputs: a constant
            return Variable(np.array(0.0), requires_grad=False)
        return total

    gradient_of.__name__ = getattr(fn, "__name__", type(fn).__name__)
    return gradient_of


def _weighted(fn, arrays, grad_output):
    out = _array(fn(*[Variable(a, requires_grad=_is_float(a)) for a in arrays]))
    return float(np.sum(out if grad_output is None else out.astype(np.float64) * grad_output))


def _array(x):
    return x.data if isinstance(x, Variable) else np.asarray(x)


def _is_float(x):
    return np.issubdtype(_array(x).dtype, np.floating)
