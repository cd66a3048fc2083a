"""DataLoader: batch sizes, drop_last, seeded shuffling, fresh epochs, both batching paths."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule.data import (
    ArrayDataset,
    BatchSampler,
    DataLoader,
    Dataset,
    SubsetRandomSampler,
    TensorDataset,
    random_split,
)


class Squares(Dataset):
    """A dataset with no get_batch of its own beyond Dataset's: read example by example."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, i * i], np.float32), i


class Plain:
    """Duck-typed: only __getitem__ and __len__, not a chainrule Dataset."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full((2, 2), i), np.int64(i)


def labels_of(loader):
    return [t.tolist() for _, t in loader]


def arrays(n):
    return ArrayDataset(np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n))


@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans())
def test_batches_cover_dataset_in_order_with_right_sizes(n, batch_size, drop_last):
    loader = DataLoader(arrays(n), batch_size=batch_size, drop_last=drop_last)
    sizes = [len(t) for _, t in loader]
    full, rest = divmod(n, batch_size)
    expected = [batch_size] * full + ([rest] if rest and not drop_last else [])
    assert sizes == expected
    assert len(loader) == len(expected)
    seen = np.concatenate([t for _, t in loader]) if expected else np.array([])
    assert seen.tolist() == list(range(len(seen)))


def test_default_batch_size_is_one_without_shuffle():
    loader = DataLoader(arrays(3))
    assert labels_of(loader) == [[0], [1], [2]]


def test_batch_arrays_stack_examples():
    ds = arrays(7)
    x, t = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(x, ds.x[:4])
    assert x.shape == (4, 3) and x.dtype == np.float32 and t.dtype == ds.t.dtype


def test_shuffle_is_a_permutation_each_epoch():
    loader = DataLoader(arrays(50), batch_size=8, shuffle=True, seed=0)
    for _ in range(3):
        xs, ts = zip(*loader)
        order = np.concatenate(ts)
        assert sorted(order.tolist()) == list(range(50))
        np.testing.assert_array_equal(np.concatenate(xs), arrays(50).x[order])


def test_same_seed_gives_same_epochs_and_epochs_differ():
    def epochs(seed):
        loader = DataLoader(arrays(30), batch_size=7, shuffle=True, seed=seed)
        return [labels_of(loader) for _ in range(3)]

    first, again, other = epochs(123), epochs(123), epochs(124)
    assert first == again
    assert first != other
    assert first[0] != first[1] != first[2]


def test_shuffle_follows_default_rng_permutations():
    loader = DataLoader(arrays(20), batch_size=20, shuffle=True, seed=7)
    rng = np.random.default_rng(7)
    for _ in range(2):
        assert labels_of(loader) == [rng.permutation(20).tolist()]


def test_each_for_loop_is_a_fresh_epoch_after_a_break():
    loader = DataLoader(arrays(10), batch_size=3)
    for _x, t in loader:
        assert t.tolist() == [0, 1, 2]
        break
    assert labels_of(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_break_mid_epoch_does_not_shift_the_next_shuffled_epoch():
    broken = DataLoader(arrays(12), batch_size=4, shuffle=True, seed=3)
    full = DataLoader(arrays(12), batch_size=4, shuffle=True, seed=3)
    next(iter(broken))
    labels_of(full)
    assert labels_of(broken) == labels_of(full)


def test_dataset_without_fast_path_is_collated_per_example():
    x, t = next(iter(DataLoader(Squares(5), batch_size=3)))
    np.testing.assert_array_equal(x, [[0, 0], [1, 1], [2, 4]])
    assert x.dtype == np.float32 and t.tolist() == [0, 1, 2]


def test_duck_typed_dataset_works():
    batches = list(DataLoader(Plain(), batch_size=2, drop_last=True))
    assert len(batches) == 2
    assert batches[1][0].shape == (2, 2, 2) and batches[1][1].tolist() == [2, 3]


def test_fast_path_and_per_example_path_agree():
    ds = arrays(9)

    class Slow(Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return ds[i]

    for fast, slow in zip(DataLoader(ds, 4, shuffle=True, seed=1),
                          DataLoader(Slow(), 4, shuffle=True, seed=1), strict=True):
        np.testing.assert_array_equal(fast[0], slow[0])
        np.testing.assert_array_equal(fast[1], slow[1])


@pytest.mark.parametrize("batch_size", [0, -3])
def test_non_positive_batch_size_is_rejected(batch_size):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        DataLoader(arrays(3), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.0, "4", True])
def test_non_int_batch_size_is_rejected(batch_size):
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(arrays(3), batch_size=batch_size)


def test_empty_dataset_yields_no_batches():
    loader = DataLoader(ArrayDataset(np.zeros((0, 2)), np.zeros(0)), batch_size=4)
    assert list(loader) == [] and len(loader) == 0


def test_collate_fn_gets_the_list_of_examples():
    seen = []

    def keep(examples):
        seen.append(len(examples))
        return [int(t) for _, t in examples]

    loader = DataLoader(arrays(5), batch_size=2, collate_fn=keep)
    assert list(loader) == [[0, 1], [2, 3], [4]] and seen == [2, 2, 1]


def test_dict_examples_are_collated_into_a_dict_of_batches():
    class Records(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": np.full(3, i, np.float32), "id": i}

    batch = next(iter(DataLoader(Records(), batch_size=3)))
    assert batch["x"].shape == (3, 3) and batch["id"].tolist() == [0, 1, 2]


def test_a_sampler_is_any_iterable_of_indices_with_a_length():
    class EveryOther:
        def __iter__(self):
            return iter([8, 6, 4, 2, 0])

        def __len__(self):
            return 5

    loader = DataLoader(arrays(10), batch_size=2, sampler=EveryOther(), drop_last=True)
    assert labels_of(loader) == [[8, 6], [4, 2]] and len(loader) == 2
    loader = DataLoader(arrays(10), batch_size=3, sampler=SubsetRandomSampler([1, 5, 9], seed=0))
    assert sorted(labels_of(loader)[0]) == [1, 5, 9]


def test_batch_sampler_makes_the_batches():
    batches = [[0, 4], [1, 2, 3], [5]]
    loader = DataLoader(TensorDataset(np.arange(6) * 2), batch_sampler=batches)
    assert [b[0].tolist() for b in loader] == [[0, 8], [2, 4, 6], [10]] and len(loader) == 3
    loader = DataLoader(arrays(7), batch_sampler=BatchSampler(range(7), 4, drop_last=True))
    assert labels_of(loader) == [[0, 1, 2, 3]]


def test_generator_shuffles_as_the_seed_does():
    by_seed = DataLoader(arrays(9), 4, shuffle=True, seed=11)
    by_generator = DataLoader(arrays(9), 4, shuffle=True, generator=np.random.default_rng(11))
    for _ in range(2):
        assert labels_of(by_seed) == labels_of(by_generator)


def test_subsets_from_random_split_load_through_the_fast_path():
    ds = arrays(20)
    train, test = random_split(ds, [0.75, 0.25], seed=0)
    xs, ts = zip(*DataLoader(train, batch_size=4, shuffle=True, seed=0))
    t = np.concatenate(ts)
    np.testing.assert_array_equal(np.concatenate(xs), ds.x[t])
    assert sorted(t.tolist()) == sorted(train.indices.tolist())
    assert len(DataLoader(test, batch_size=4)) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"sampler": range(3), "shuffle": True}, "sampler and shuffle=True exclude each other"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler excludes batch_size"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler excludes"),
    ({"shuffle": True, "seed": 1, "generator": np.random.default_rng()}, "seed or generator"),
])
def test_options_that_exclude_each_other_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(arrays(3), **kwargs)


def test_collate_fn_must_be_callable():
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(arrays(3), collate_fn="stack")
