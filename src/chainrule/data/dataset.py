"""Datasets: indexable collections of examples, and views of them (Subset, random_split)."""

import bisect
import itertools
import math
import warnings

import numpy as np

from chainrule.data.collate import collate


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


class TensorDataset(Dataset):
    """Examples held as arrays with the same first axis: ``dataset[i] = (a[i], b[i], ...)``.

    PyTorch's TensorDataset with NumPy arrays (anything ``np.asarray`` takes); batches
    are sliced with one fancy index per array.

    >>> ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    >>> len(ds), [a.shape for a in ds.get_batch([0, 2])]
    (4, [(2, 2), (2,)])
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: arrays of shapes {shapes} need one first axis "
                             "length")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices):
        indices = np.asarray(indices, dtype=np.intp)
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(str(a.shape[1:]) for a in self.arrays)
        return f"TensorDataset(n={len(self)}, {shapes})"


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``: ``subset[i] = dataset[indices[i]]``.

    A view, as PyTorch's Subset: nothing is copied; batches go through the dataset's own
    ``get_batch`` when it has one.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp).reshape(-1)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        chosen = self.indices[np.asarray(indices, dtype=np.intp)]
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            return get_batch(chosen)
        return collate([self.dataset[int(i)] for i in chosen])

    def __repr__(self):
        return f"Subset({self.dataset!r}, n={len(self)})"


class ConcatDataset(Dataset):
    """The examples of several datasets, one after another (PyTorch's ConcatDataset).

    >>> len(ConcatDataset([TensorDataset(np.zeros(3)), TensorDataset(np.ones(2))]))
    5
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: give at least one dataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} examples")
        index %= n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None, seed=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1, as in
    PyTorch: ``floor(n * fraction)`` each, then the examples left over go one at a time to
    the subsets in turn. The order is a permutation drawn from ``generator`` (a
    ``numpy.random.Generator``) or ``numpy.random.default_rng(seed)``; with neither, a
    fresh one (a different split each run).

    >>> train, test = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], seed=0)
    >>> len(train), len(test)
    (8, 2)
    """
    n, lengths = len(dataset), list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_of_fractions(lengths, n)
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"random_split: length at index {i} is {length!r}; give "
                             "non-negative counts or fractions that sum to 1")
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} sum to {sum(lengths)}, but the "
                         f"dataset has {n} examples")
    if generator is not None and seed is not None:
        raise ValueError("random_split: give seed or generator, not both")
    rng = generator if generator is not None else np.random.default_rng(seed)
    order = rng.permutation(n)
    ends = list(itertools.accumulate(lengths))
    return [Subset(dataset, order[end - length : end]) for end, length in zip(ends, lengths)]


def _lengths_of_fractions(fractions, n):
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_split: fraction at index {i} is {fraction}, not in [0, 1]")
    lengths = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: the subset at index {i} is empty", stacklevel=3)
    return lengths
