"""One harness for every differentiable operation.

``check_op`` takes the operation, its float64 inputs, a NumPy reference and
(optionally) the PyTorch twin, and checks the forward values, the gradients
against central differences at orders 1 and 2, and PyTorch's forward and
gradients where torch is installed. Each op's test is then a few lines.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

try:
    import torch
except ImportError:  # the torch comparison is skipped without it
    torch = None


def check_op(fn, inputs, reference=None, torch_fn=None, order=2, atol=1e-5, rtol=1e-4):
    """Forward against ``reference``, gradcheck and jvpcheck (forward mode) up to ``order``,
    and PyTorch when available."""
    arrays = [np.asarray(a) for a in inputs]
    if reference is not None:
        out = fn(*[cr.Variable(a.copy()) for a in arrays])
        np.testing.assert_allclose(out.data, reference(*arrays), rtol=1e-7, atol=1e-10)
    cr.gradcheck(fn, arrays, order=order, atol=atol, rtol=rtol)
    cr.jvpcheck(fn, arrays, order=order, atol=atol, rtol=rtol)
    if torch_fn is not None:
        compare_with_torch(fn, torch_fn, arrays)


def compare_with_torch(fn, torch_fn, arrays, atol=1e-7, rtol=1e-6, seed=0):
    """Same forward and same gradients as ``torch_fn`` on the same float64 inputs."""
    if torch is None:
        return
    floats = [np.issubdtype(np.asarray(a).dtype, np.floating) for a in arrays]
    variables = [cr.Variable(np.array(a), requires_grad=f) for a, f in zip(arrays, floats)]
    out = fn(*variables)
    gy = np.random.default_rng(seed).standard_normal(out.shape)
    wanted = [v for v in variables if v.requires_grad]
    grads = cr.grad(out, wanted, grad_outputs=[cr.Variable(gy)], allow_unused=True)

    tensors = [torch.tensor(np.array(a), requires_grad=f) for a, f in zip(arrays, floats)]
    t_out = torch_fn(*tensors)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=rtol, atol=atol)
    t_wanted = [t for t in tensors if t.requires_grad]
    t_grads = torch.autograd.grad(t_out, t_wanted, torch.tensor(gy), allow_unused=True)
    for g, t in zip(grads, t_grads):
        expected = np.zeros(1) if t is None else t.numpy()
        actual = np.zeros(1) if g is None else g.data
        np.testing.assert_allclose(actual, np.broadcast_to(expected, np.shape(actual)),
                                   rtol=rtol, atol=atol)


def random_array(seed, shape, low=-2.0, high=2.0):
    """A float64 array of ``shape`` drawn from a seeded generator."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def shapes(min_dims=0, max_dims=3, max_side=4):
    """Hypothesis strategy: small array shapes."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def broadcast_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4):
    """Hypothesis strategy: a tuple of shapes that broadcast together."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


seeds = st.integers(min_value=0, max_value=2**31 - 1)
