"""DistributedSampler: each rank reads its own share of the dataset, a new share each epoch."""

import math

import numpy as np

from chainrule.distributed.world import world


class DistributedSampler:
    """The indices of rank ``rank``'s shard of ``dataset``, for ``DataLoader(sampler=...)``.

    Every rank draws the same permutation of ``range(len(dataset))`` (from ``seed`` and the
    epoch) and takes every ``num_replicas``-th index from its rank on, so the shards are
    disjoint and together cover the dataset. When the length does not divide evenly, the
    permutation is padded with its own first indices (every rank then takes as many steps;
    a few examples count twice in that epoch) or, with ``drop_last``, cut to a multiple of
    ``num_replicas`` (a few examples wait for another epoch). Call ``set_epoch(epoch)``
    before each epoch for a new order, as with ``torch.utils.data.DistributedSampler``:

    >>> sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
    >>> loader = DataLoader(train_set, batch_size=64 // dist.world_size(), sampler=sampler)
    >>> for epoch in range(epochs):
    ...     sampler.set_epoch(epoch)
    ...     for xb, tb in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        num_replicas = world().size if num_replicas is None else num_replicas
        rank = world().rank if rank is None else rank
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) \
                or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, "
                             f"got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) \
                or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be from 0 to {num_replicas - 1}, "
                             f"got {rank!r}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s order from now on (the same on every rank)."""
        self.epoch = int(epoch)

    def order(self):
        """This rank's indices for the current epoch, as an integer array."""
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            indices = np.arange(n)
        if self.total_size > n and n:  # pad with the start, again and again if n is tiny
            indices = np.resize(indices, self.total_size)
        indices = indices[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas]

    def __iter__(self):
        return iter(self.order().tolist())

    def __len__(self):
        return self.num_samples
