"""PyTorch's keyword names (dim, keepdim, padding, negative_slope) and F.cat give the same
results as chainrule's own (axis, keepdims, pad, slope, concat)."""

import numpy as np
import pytest

import chainrule.functions as F
from harness import random_array

X = random_array(0, (2, 3, 4))
IMAGE = random_array(1, (2, 3, 6, 6))
KERNEL = random_array(2, (4, 3, 3, 3))

# (ours, PyTorch's): the same request spelled both ways
PAIRS = {
    "sum": (lambda: F.sum(X, axis=1, keepdims=True), lambda: F.sum(X, dim=1, keepdim=True)),
    "mean": (lambda: F.mean(X, axis=(0, 2)), lambda: F.mean(X, dim=(0, 2))),
    "max": (lambda: F.max(X, axis=1, keepdims=True), lambda: F.max(X, dim=1, keepdim=True)[0]),
    "min": (lambda: F.min(X, axis=-1), lambda: F.min(X, dim=-1).values),
    "argmax": (lambda: F.argmax(X, axis=2), lambda: F.argmax(X, dim=2)),
    "argmin": (lambda: F.argmin(X, axis=0, keepdims=True),
               lambda: F.argmin(X, dim=0, keepdim=True)),
    "logsumexp": (lambda: F.logsumexp(X, axis=1, keepdims=True),
                  lambda: F.logsumexp(X, dim=1, keepdim=True)),
    "softmax": (lambda: F.softmax(X, axis=1), lambda: F.softmax(X, dim=1)),
    "log_softmax": (lambda: F.log_softmax(X, axis=0), lambda: F.log_softmax(X, dim=0)),
    "concat": (lambda: F.concat([X, X], axis=2), lambda: F.cat([X, X], dim=2)),
    "stack": (lambda: F.stack([X, X], axis=1), lambda: F.stack([X, X], dim=1)),
    "squeeze": (lambda: F.squeeze(X[:, :1], axis=1), lambda: F.squeeze(X[:, :1], dim=1)),
    "expand_dims": (lambda: F.expand_dims(X, axis=1), lambda: F.expand_dims(X, dim=1)),
    "unsqueeze": (lambda: F.expand_dims(X, -1), lambda: F.unsqueeze(X, -1)),
    "transpose": (lambda: F.transpose(X, (0, 2, 1)), lambda: F.transpose(X, 1, 2)),
    "flatten": (lambda: F.reshape(X, (6, 4)), lambda: F.flatten(X, start_dim=0, end_dim=1)),
    "leaky_relu": (lambda: F.leaky_relu(X, 0.2), lambda: F.leaky_relu(X, negative_slope=0.2)),
    "conv2d": (lambda: F.conv2d(IMAGE, KERNEL, pad=1),
               lambda: F.conv2d(IMAGE, KERNEL, padding=1)),
    "conv_transpose2d": (lambda: F.conv_transpose2d(IMAGE, KERNEL.transpose(1, 0, 2, 3), pad=1),
                         lambda: F.conv_transpose2d(IMAGE, KERNEL.transpose(1, 0, 2, 3),
                                                    padding=1)),
    "max_pool2d": (lambda: F.max_pool2d(IMAGE, 3, 2, pad=1),
                   lambda: F.max_pool2d(IMAGE, 3, 2, padding=1)),
    "avg_pool2d": (lambda: F.avg_pool2d(IMAGE, 2, pad=(1, 0)),
                   lambda: F.avg_pool2d(IMAGE, 2, padding=(1, 0))),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_pytorch_keywords_give_the_same_result(name):
    ours, theirs = PAIRS[name]
    a, b = ours(), theirs()
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.data, b.data)


def test_cat_is_concat():
    assert F.cat is F.concat


@pytest.mark.parametrize("call, message", [
    (lambda: F.sum(X, axis=0, dim=1), r"sum: got axis=0 and dim=1"),
    (lambda: F.mean(X, keepdims=True, keepdim=False), r"mean: got keepdims=True and keepdim=False"),
    (lambda: F.softmax(X, 0, dim=1), r"softmax: got axis=0 and dim=1"),
    (lambda: F.cat([X, X], 1, dim=2), r"concat: got axis=1 and dim=2"),
    (lambda: F.conv2d(IMAGE, KERNEL, pad=1, padding=2), r"conv2d: got pad=1 and padding=2"),
    (lambda: F.max_pool2d(IMAGE, 2, pad=1, padding=0), r"max_pool2d: got pad=1 and padding=0"),
    (lambda: F.expand_dims(X), r"expand_dims: missing the axis"),
])
def test_two_different_spellings_of_one_keyword_are_refused(call, message):
    with pytest.raises(TypeError, match=message):
        call()
