"""Datasets: indexable collections of ``(x, t)`` examples."""

import numpy as np


def collate(samples):
    """Stack a list of ``(x, t)`` examples into one ``(x_batch, t_batch)`` pair of arrays.

    ``[(x_0, t_0), ..., (x_{B-1}, t_{B-1})]`` -> ``x_batch[i] = x_i``, ``t_batch[i] = t_i``;
    shapes ``(B, *x.shape)`` and ``(B, *t.shape)``.
    """
    if not samples:
        raise ValueError("collate: got an empty list of samples; a batch needs at least one")
    xs, ts = zip(*samples)
    return np.stack([np.asarray(x) for x in xs]), np.stack([np.asarray(t) for t in ts])


class Dataset:
    """A collection of examples: ``dataset[i]`` is ``(x, t)``, ``len(dataset)`` their count.

    Subclasses define ``__getitem__`` and ``__len__``. ``get_batch(indices)`` stacks the
    examples with ``collate``; a subclass holding whole arrays overrides it to slice them at once.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    def get_batch(self, indices):
        """``(x_batch, t_batch)`` for an integer array of example indices."""
        return collate([self[int(i)] for i in indices])


class ArrayDataset(Dataset):
    """Examples held as two arrays with the same first axis: ``x[i], t[i]``.

    x: (N, ...), t: (N, ...). ``transform`` (a callable on one ``x``) runs on each example
    read; batches are sliced with one fancy index, and a transform with a ``batch`` method
    (every transform in ``chainrule.data.transforms``) runs once on the whole batch.

    >>> ds = ArrayDataset(np.zeros((4, 2), np.float32), np.arange(4))
    >>> len(ds), ds[1][0].shape, int(ds[1][1])
    (4, (2,), 1)
    """

    def __init__(self, x, t, transform=None):
        x, t = np.asarray(x), np.asarray(t)
        if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
            raise ValueError(
                f"ArrayDataset: x {x.shape} and t {t.shape} need the same first axis length"
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"ArrayDataset: transform must be callable, got {transform!r}")
        self.x, self.t, self.transform = x, t, transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        x = self.x[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.t[index]

    def get_batch(self, indices):
        """``(x[indices], t[indices])``, the transform applied to each example."""
        indices = np.asarray(indices)
        x, t = self.x[indices], self.t[indices]
        if self.transform is None:
            return x, t
        batch = getattr(self.transform, "batch", None)
        if batch is not None:
            return batch(x), t
        return np.stack([np.asarray(self.transform(xi)) for xi in x]), t

    def __repr__(self):
        return f"{type(self).__name__}(n={len(self)}, x={self.x.shape[1:]}, t={self.t.dtype})"
