"""Normalisation: batch_norm and layer_norm, one fused Function for both.

``Normalize`` standardises x over some axes and applies γ, β. A plain backward
reuses x̂ and 1/σ̂ saved by the forward; a backward that records the graph
(``create_graph=True``) rebuilds them from x with chainrule operations, so the
gradient is itself differentiable.
"""

from chainrule.core import Function, Variable, as_variable, is_grad_enabled
from chainrule.functions.tangent import total


class Normalize(Function):
    """y = γ x̂ + β,  x̂ = (x - μ) / √(σ² + ε),  μ and σ² (biased) over ``axes``

    With g = γ gy and means over ``axes``:
    gx = (g - mean(g) - x̂ mean(g x̂)) / √(σ² + ε);  gγ = Σ gy x̂, gβ = Σ gy over ``param_axes``.
    """

    keeps_outputs = False

    def __init__(self, axes, param_axes, param_shape, eps):
        self.axes = axes
        self.param_axes = param_axes
        self.param_shape = param_shape
        self.eps = eps

    def forward(self, x, gamma, beta):
        self.mean = x.mean(axis=self.axes, keepdims=True)
        xc = x - self.mean
        self.var = (xc * xc).mean(axis=self.axes, keepdims=True)
        self.inv_std = 1.0 / (self.var + self.eps) ** 0.5
        xc *= self.inv_std
        self.xhat = xc
        return xc * gamma.reshape(self.param_shape) + beta.reshape(self.param_shape)

    def backward(self, gy):
        x, gamma, beta = self.inputs
        xhat, inv_std = self.standardized()
        n = _count(x.shape, self.axes)
        g = gy * gamma.reshape(self.param_shape)
        g_mean = g.sum(axis=self.axes, keepdims=True) / n
        gxhat_mean = (g * xhat).sum(axis=self.axes, keepdims=True) / n
        gx = (g - g_mean - xhat * gxhat_mean) * inv_std
        ggamma = (gy * xhat).sum(axis=self.param_axes).reshape(gamma.shape)
        gbeta = gy.sum(axis=self.param_axes).reshape(beta.shape)
        return gx, ggamma, gbeta

    def jvp(self, tx, tgamma, tbeta):
        """dy = γ dx̂ + dγ x̂ + dβ,  dx̂ = (dx - mean(dx) - x̂ mean(x̂ dx)) / √(σ² + ε)"""
        x, gamma = self.inputs[:2]
        xhat, inv_std = self.standardized()
        dxhat = None
        if tx is not None:
            n = _count(x.shape, self.axes)
            tx_mean = tx.sum(axis=self.axes, keepdims=True) / n
            along = (xhat * tx).sum(axis=self.axes, keepdims=True) / n
            dxhat = (tx - tx_mean - xhat * along) * inv_std * gamma.reshape(self.param_shape)
        return total(dxhat, None if tgamma is None else tgamma.reshape(self.param_shape) * xhat,
                     None if tbeta is None else tbeta.reshape(self.param_shape))

    def standardized(self):
        """x̂ and 1/σ̂: the forward's arrays, or, while recording, rebuilt from x (so what is
        made of them differentiates with respect to x)."""
        x = self.inputs[0]
        if is_grad_enabled() and x.requires_grad:
            return standardize(x, self.axes, self.eps)
        return x.constant(self.xhat), x.constant(self.inv_std)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def standardize(x, axes, eps):
    """x̂ = (x - μ) / √(σ² + ε) and 1/√(σ² + ε) over ``axes``, as recorded chainrule operations."""
    n = _count(x.shape, axes)
    xc = x - x.sum(axis=axes, keepdims=True) / n
    inv_std = ((xc * xc).sum(axis=axes, keepdims=True) / n + eps) ** -0.5
    return xc * inv_std, inv_std


def _array(a):
    """The array of a running statistic held as a Variable (e.g. a buffer) or as an array."""
    return a.data if isinstance(a, Variable) else a


def batch_norm(x, gamma, beta, running_mean=None, running_var=None, training=True,
               momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, C) or (N, C, H, W) per channel; gamma, beta (C,).

    Training mode normalises with the batch's mean and biased variance and, when given,
    updates ``running_mean`` / ``running_var`` (C,) in place:
    r ← (1 - momentum) r + momentum · batch statistic, with the unbiased variance
    m/(m-1) σ² for ``running_var``, as PyTorch does. Eval mode uses the running arrays.
    """
    x, gamma, beta = as_variable(x), as_variable(gamma), as_variable(beta)
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm: x must be (N, C) or (N, C, H, W), got shape {x.shape}")
    c = x.shape[1]
    if gamma.shape != (c,) or beta.shape != (c,):
        raise ValueError(
            f"batch_norm: gamma {gamma.shape} and beta {beta.shape} must be ({c},) "
            f"for x of shape {x.shape}"
        )
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if not training:
        return _batch_norm_eval(x, gamma, beta, running_mean, running_var, eps, shape)
    m = x.data.size // c
    if m == 1:
        raise ValueError(f"batch_norm: training needs more than 1 value per channel, x {x.shape}")
    if m == 0:  # an empty batch has no statistics: running ones untouched, as in PyTorch
        return x * gamma.reshape(shape) + beta.reshape(shape)
    f = Normalize(axes, axes, shape, eps)
    y = f(x, gamma, beta)
    for running, batch in ((running_mean, f.mean), (running_var, f.var * (m / (m - 1)))):
        if running is not None:
            running = _array(running)
            running *= 1.0 - momentum
            running += momentum * batch.reshape(c)
    return y


def _batch_norm_eval(x, gamma, beta, running_mean, running_var, eps, shape):
    """y = x γ/√(r_var + ε) + (β - r_mean γ/√(r_var + ε)): affine in x, γ and β."""
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm: eval mode (training=False) needs running_mean and running_var")
    c = x.shape[1]
    running_mean, running_var = _array(running_mean), _array(running_var)
    if running_mean.shape != (c,) or running_var.shape != (c,):
        raise ValueError(
            f"batch_norm: running_mean {running_mean.shape} and running_var "
            f"{running_var.shape} must be ({c},) for x of shape {x.shape}"
        )
    inv_std = ((running_var + eps) ** -0.5).astype(x.dtype, copy=False)
    scale = gamma * x.constant(inv_std)
    shift = beta - x.constant(running_mean.astype(x.dtype, copy=False)) * scale
    return x * scale.reshape(shape) + shift.reshape(shape)


def layer_norm(x, gamma, beta, eps=1e-5):
    """Layer normalisation of x over its last gamma.ndim axes; gamma, beta of that trailing shape.

    y = γ (x - μ) / √(σ² + ε) + β with μ, σ² (biased) of each sample's trailing axes::

        y = layer_norm(x, gamma, beta)   # x (N, T, D), gamma and beta (D,)
    """
    x, gamma, beta = as_variable(x), as_variable(gamma), as_variable(beta)
    k = gamma.ndim
    if not 0 < k <= x.ndim or gamma.shape != beta.shape or x.shape[x.ndim - k:] != gamma.shape:
        raise ValueError(
            f"layer_norm: gamma {gamma.shape} and beta {beta.shape} must equal the trailing "
            f"axes of x {x.shape}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    return Normalize(axes, tuple(range(x.ndim - k)), gamma.shape, eps)(x, gamma, beta)
