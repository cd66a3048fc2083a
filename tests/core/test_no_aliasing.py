"""No two gradients share a buffer, and no gradient shares one with the caller's arrays."""

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F


def _assert_no_sharing(arrays):
    for (i, a), (j, b) in itertools.combinations(enumerate(arrays), 2):
        assert not np.shares_memory(a, b), f"buffers {i} and {j} alias"


def test_add_gives_each_input_its_own_grad_and_leaves_the_seed_alone():
    a, b = cr.Variable(np.ones(3)), cr.Variable(np.ones(3))
    g = np.arange(3.0)
    (a + b).backward(g)
    _assert_no_sharing([a.grad.data, b.grad.data, g])
    a.grad.data *= 5
    np.testing.assert_allclose(b.grad.data, [0, 1, 2])
    np.testing.assert_allclose(g, [0, 1, 2])


def test_a_leaf_seeded_directly_and_a_sum_broadcast_give_writable_owned_grads():
    x = cr.Variable(np.ones(3))
    g = np.full(3, 2.0)
    x.backward(g)
    assert not np.shares_memory(x.grad.data, g)
    y = cr.Variable(np.ones((2, 3)))
    s = y.sum()
    s.backward(np.array(4.0))
    y.grad.data += 1  # a broadcast view would be read-only
    np.testing.assert_allclose(y.grad.data, np.full((2, 3), 5.0))


def test_retained_intermediate_grads_own_their_buffers():
    x = cr.Variable(np.ones(2))
    h = x + 0.0
    y = h + 1.0
    g = np.ones(2)
    y.backward(g, retain_grad=True)
    _assert_no_sharing([x.grad.data, h.grad.data, y.grad.data, g, x.data])


_UNARY = [lambda v: v + 1.0, lambda v: v * 2.0, lambda v: -v, lambda v: v.reshape(v.shape),
          lambda v: v.T, lambda v: v.sum(axis=0, keepdims=True) + v, lambda v: F.tanh(v),
          lambda v: v[...], lambda v: v.clone()]
_BINARY = [lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q, lambda p, q: p + q * 0]


@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(0, 10)),
                min_size=1, max_size=8),
       st.booleans(), st.booleans())
def test_no_two_grads_and_no_grad_and_user_array_ever_alias(steps, retain, use_seed):
    leaves = [cr.Variable(np.random.default_rng(i).standard_normal((2, 2))) for i in range(3)]
    nodes = list(leaves)
    for kind, i, j in steps:
        p, q = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if kind % 2:
            nodes.append(_BINARY[kind % len(_BINARY)](p, q))
        else:
            nodes.append(_UNARY[kind % len(_UNARY)](p))
    out = nodes[-1]
    seed = np.ones(out.shape) if use_seed else None
    out.backward(seed, retain_grad=retain)
    out.backward(seed, retain_grad=retain)  # a second pass accumulates: still no sharing
    grads = [v.grad.data for v in dict.fromkeys(nodes) if v.grad is not None]
    users = [v.data for v in leaves] + ([seed] if use_seed else [])
    _assert_no_sharing(grads + users)
