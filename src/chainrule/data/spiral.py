"""The three-arm spiral of DeZero and CS231n: a small data set no linear model can separate."""

import numpy as np

from chainrule.data.dataset import ArrayDataset

N_PER_CLASS, N_CLASSES = 100, 3


def spiral_arrays(train=True):
    """``(x, t)``: 300 points of three interleaved spiral arms, the same as DeZero's get_spiral.

    For arm j in 0..2 and i in 0..99, with r = i / 100 and noise e ~ N(0, 1):
    theta = 4 j + 4 r + 0.2 e,  x = (r sin theta, r cos theta),  t = j;
    then shuffled. The noise and shuffle come from ``RandomState(1984)`` (train) or
    ``RandomState(2020)`` (test), so every call returns the same arrays.
    x: (300, 2) float32, t: (300,) int64.
    """
    rng = np.random.RandomState(1984 if train else 2020)  # legacy generator: DeZero's numbers
    noise = rng.randn(N_CLASSES, N_PER_CLASS)  # the same draws, in the same order, as DeZero
    rate = np.arange(N_PER_CLASS) / N_PER_CLASS
    arm = np.arange(N_CLASSES)[:, None]
    theta = arm * 4.0 + 4.0 * rate + noise * 0.2
    x = np.stack([rate * np.sin(theta), rate * np.cos(theta)], axis=-1).reshape(-1, 2)
    t = np.repeat(np.arange(N_CLASSES, dtype=np.int64), N_PER_CLASS)
    order = rng.permutation(N_CLASSES * N_PER_CLASS)
    return x[order].astype(np.float32), t[order]


class Spiral(ArrayDataset):
    """Three-arm spiral: x (2,) float32 points within the unit disc, t int64 in {0, 1, 2}.

    300 points; ``train`` chooses between two fixed draws of the noise (see ``spiral_arrays``).

    >>> ds = Spiral()
    >>> len(ds), ds[0][0].shape, sorted(set(ds.t.tolist()))
    (300, (2,), [0, 1, 2])
    """

    def __init__(self, train=True, transform=None):
        x, t = spiral_arrays(train)
        super().__init__(x, t, transform=transform)
        self.train = bool(train)
