"""Samplers: orders, lengths, replacement, seeds, and batches of indices."""

import numpy as np
import pytest

from chainrule.data import BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler


def test_sequential_sampler_counts_up():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert len(SequentialSampler(range(4))) == 4


def test_random_sampler_draws_a_new_permutation_each_pass_from_its_seed():
    sampler = RandomSampler(range(10), seed=5)
    rng = np.random.default_rng(5)
    for _ in range(3):
        assert list(sampler) == rng.permutation(10).tolist()


def test_random_sampler_with_more_samples_than_examples_repeats_permutations():
    order = list(RandomSampler(range(4), num_samples=10, generator=np.random.default_rng(1)))
    assert len(order) == 10
    assert sorted(order[:4]) == sorted(order[4:8]) == [0, 1, 2, 3]
    assert len(set(order[8:])) == 2


def test_random_sampler_with_replacement_draws_uniformly():
    order = list(RandomSampler(range(3), replacement=True, num_samples=3000, seed=0))
    counts = np.bincount(order, minlength=3)
    assert len(order) == 3000 and counts.min() > 900


def test_subset_random_sampler_permutes_only_its_indices():
    sampler = SubsetRandomSampler([7, 3, 9], seed=2)
    passes = [list(sampler) for _ in range(4)]
    assert all(sorted(p) == [3, 7, 9] for p in passes) and len(sampler) == 3
    assert len({tuple(p) for p in passes}) > 1


@pytest.mark.parametrize("n, size, drop_last", [(7, 3, False), (7, 3, True), (6, 3, True),
                                                (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_groups_indices(n, size, drop_last):
    batches = list(BatchSampler(SequentialSampler(range(n)), size, drop_last))
    assert len(batches) == len(BatchSampler(range(n), size, drop_last))
    flat = [i for b in batches for i in b]
    assert flat == list(range(len(flat)))
    assert all(len(b) == size for b in batches[:-1])
    assert len(flat) == (n - n % size if drop_last else n)


@pytest.mark.parametrize("make, error, message", [
    (lambda: RandomSampler(range(3), num_samples=0), ValueError, "num_samples must be a"),
    (lambda: RandomSampler(range(3), seed=1, generator=np.random.default_rng()), ValueError,
     "seed or generator, not both"),
    (lambda: SubsetRandomSampler([1], generator=3), TypeError, "numpy.random.Generator"),
    (lambda: BatchSampler(range(3), 0, False), ValueError, "at least 1"),
    (lambda: BatchSampler(range(3), 2.0, False), TypeError, "must be an int"),
])
def test_bad_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_arrays_are_the_batches_as_arrays(drop_last):
    def make(sampler):
        return BatchSampler(sampler, 4, drop_last)

    ours = make(RandomSampler(range(10), seed=3))
    assert [b.tolist() for b in ours.arrays()] == list(make(RandomSampler(range(10), seed=3)))
    plain = make([9, 8, 7, 6, 5])  # no order(): grouped one index at a time
    assert [b.tolist() for b in plain.arrays()] == list(plain)
    assert all(b.dtype.kind == "i" for b in plain.arrays())


def test_weighted_sampler_draws_in_proportion_to_the_weights():
    from chainrule.data import WeightedRandomSampler

    sampler = WeightedRandomSampler([1.0, 0.0, 3.0], num_samples=4000, seed=0)
    counts = np.bincount(list(sampler), minlength=3)
    assert len(sampler) == 4000 and counts[1] == 0
    assert counts[2] / counts[0] == pytest.approx(3.0, rel=0.1)
    once = list(WeightedRandomSampler([1, 1, 5, 0], num_samples=3, replacement=False, seed=1))
    assert sorted(once) == [0, 1, 2]
    with pytest.raises(ValueError, match="only 3 weights are positive"):
        WeightedRandomSampler([1, 1, 5, 0], num_samples=4, replacement=False)
    with pytest.raises(ValueError, match="non-negative numbers with a positive sum"):
        WeightedRandomSampler([0, 0], num_samples=1)
