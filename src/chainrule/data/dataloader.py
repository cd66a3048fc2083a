"""DataLoader: mini-batches of a dataset, one fresh pass per ``for`` loop."""

import numpy as np

from chainrule.data.collate import collate
from chainrule.data.sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in mini-batches, as ``torch.utils.data.DataLoader``.

    Each ``for`` loop is a new epoch, however the previous one ended. The indices come
    from ``batch_sampler`` (lists of indices), else from ``sampler`` (indices, any iterable
    with ``__len__``) grouped by ``batch_size`` (the last batch shorter, or dropped when
    ``drop_last``), else in order, or shuffled with ``shuffle``: then epoch k is the k-th
    permutation drawn from ``generator`` or ``numpy.random.default_rng(seed)``, so the same
    seed gives the same epochs.

    A batch is ``collate_fn([dataset[i] for i in indices])``; ``collate_fn`` defaults to
    ``collate``, which stacks arrays, numbers, tuples and dicts as torch's default_collate
    (``(x_batch, t_batch)`` for ``(x, t)`` examples). Without a ``collate_fn``, datasets with
    a ``get_batch(indices)`` method (``ArrayDataset``, ``TensorDataset``, ``Subset``,
    ``MNIST``) are sliced a whole batch at a time instead. Everything runs in this process
    (no ``num_workers``).

    >>> from chainrule.data import ArrayDataset
    >>> loader = DataLoader(ArrayDataset(np.zeros((5, 2)), np.arange(5)), batch_size=2)
    >>> [t.tolist() for _, t in loader], len(loader)
    ([[0, 1], [2, 3], [4]], 3)
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 collate_fn=None, drop_last=False, seed=None, generator=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other "
                             "(the sampler decides the order)")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("DataLoader: batch_sampler excludes batch_size, shuffle, sampler "
                             "and drop_last (it makes the batches itself)")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.seed = bool(shuffle), bool(drop_last), seed
        self.collate_fn = collate_fn
        if sampler is None:
            sampler = (RandomSampler(dataset, seed=seed, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        self.sampler = sampler
        if batch_sampler is None:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
        self.batch_sampler = batch_sampler

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        get_batch = getattr(self.dataset, "get_batch", None)
        batches = getattr(self.batch_sampler, "arrays", None)
        for indices in batches() if batches is not None else self.batch_sampler:
            if self.collate_fn is not None:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
            elif get_batch is not None:
                yield get_batch(np.asarray(indices, dtype=np.intp))
            else:
                yield collate([self.dataset[int(i)] for i in indices])

    def __repr__(self):
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed!r})"
        )
