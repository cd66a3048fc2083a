"""Compare a chainrule layer with its PyTorch twin: same weights in, same outputs and grads out.

A pair is ``(parameter, torch_parameter, layout)``: ``layout`` maps chainrule's array to
torch's (``np.transpose`` for Linear's W); the same map carries gradients across.
"""

import numpy as np
import pytest

import chainrule as cr


def torch_or_skip():
    return pytest.importorskip("torch")


def load_into_torch(pairs):
    """Copy each chainrule parameter into its torch twin, in torch's layout."""
    torch = torch_or_skip()
    with torch.no_grad():
        for ours, theirs, layout in pairs:
            theirs.copy_(torch.from_numpy(np.ascontiguousarray(layout(ours.data))))


def backward_both(y, t_y, seed=0):
    """Backpropagate the same random upstream gradient through both outputs."""
    torch = torch_or_skip()
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(cr.Variable(gy))
    t_y.backward(torch.from_numpy(gy))


def assert_close(ours, theirs, atol=1e-5, rtol=1e-4):
    """``ours`` (Variable or array) equals ``theirs`` (torch tensor)."""
    actual = ours.data if isinstance(ours, cr.Variable) else ours
    np.testing.assert_allclose(actual, theirs.detach().numpy(), atol=atol, rtol=rtol)


def assert_same_grads(pairs, atol=1e-5, rtol=1e-4):
    """Every parameter's gradient, in torch's layout, equals its twin's."""
    for ours, theirs, layout in pairs:
        assert ours.grad is not None, "a parameter got no gradient"
        np.testing.assert_allclose(layout(ours.grad.data), theirs.grad.numpy(),
                                   atol=atol, rtol=rtol)


def same(array):
    return array


def random_input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
