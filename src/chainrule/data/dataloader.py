"""DataLoader: mini-batches of a dataset, one fresh pass per ``for`` loop."""

import math

import numpy as np

from chainrule.data.dataset import collate


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of ``(x_batch, t_batch)`` NumPy arrays.

    x_batch: (B, *x.shape), t_batch: (B, *t.shape), B = ``batch_size`` except possibly the
    last batch (dropped when ``drop_last``). Each ``for`` loop is a new epoch, however the
    previous one ended. With ``shuffle`` the order of epoch k is the k-th permutation drawn
    from ``numpy.random.default_rng(seed)``, so the same seed gives the same epochs.
    Datasets with a ``get_batch(indices)`` method (``ArrayDataset``, ``Digits``, ``MNIST``)
    are sliced a whole batch at a time; others are read example by example and ``collate``-d.

    >>> from chainrule.data import ArrayDataset
    >>> loader = DataLoader(ArrayDataset(np.zeros((5, 2)), np.arange(5)), batch_size=2)
    >>> [t.tolist() for _, t in loader], len(loader)
    ([[0, 1], [2, 3], [4]], 3)
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        get_batch = getattr(self.dataset, "get_batch", None)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            indices = order[start : start + self.batch_size]
            if get_batch is not None:
                yield get_batch(indices)
            else:
                yield collate([self.dataset[int(i)] for i in indices])

    def __repr__(self):
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed!r})"
        )
