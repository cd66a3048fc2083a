"""Spiral: DeZero's three-arm spiral, reproduced exactly."""

import numpy as np

from chainrule.data import Spiral


def dezero_spiral(train):
    """DeZero's get_spiral, written out with its loops (DeZero itself fails on NumPy 2)."""
    rng = np.random.RandomState(1984 if train else 2020)
    x, t = np.zeros((300, 2), np.float32), np.zeros(300, np.int64)
    for j in range(3):
        for i in range(100):
            rate = i / 100
            theta = j * 4.0 + 4.0 * rate + rng.randn() * 0.2
            x[100 * j + i] = [rate * np.sin(theta), rate * np.cos(theta)]
            t[100 * j + i] = j
    order = rng.permutation(300)
    return x[order], t[order]


def test_spiral_matches_dezero_and_is_deterministic():
    for train in (True, False):
        ds = Spiral(train=train)
        x, t = dezero_spiral(train)
        np.testing.assert_allclose(ds.x, x, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(ds.t, t)
        np.testing.assert_array_equal(Spiral(train=train).x, ds.x)
    assert not np.array_equal(Spiral(True).x, Spiral(False).x)


def test_spiral_shapes_and_classes():
    ds = Spiral()
    assert ds.x.shape == (300, 2) and ds.x.dtype == np.float32 and ds.t.dtype == np.int64
    assert np.bincount(ds.t).tolist() == [100, 100, 100]
    assert np.all(np.hypot(ds.x[:, 0], ds.x[:, 1]) < 1.0)
    assert ds[5][0].shape == (2,)
