"""Dataset, ArrayDataset, TensorDataset, Subset, random_split and collate."""

import numpy as np
import pytest

from chainrule.data import (
    ArrayDataset,
    Dataset,
    Subset,
    TensorDataset,
    collate,
    random_split,
)
from chainrule.data.transforms import Flatten
from harness import torch


def test_array_dataset_indexes_both_arrays():
    x, t = np.arange(12.0).reshape(4, 3), np.array([3, 1, 4, 1])
    ds = ArrayDataset(x, t)
    xi, ti = ds[2]
    np.testing.assert_array_equal(xi, x[2])
    assert ti == 4 and len(ds) == 4


def test_array_dataset_transform_runs_per_example_and_per_batch():
    x = np.arange(24.0).reshape(4, 2, 3)
    ds = ArrayDataset(x, np.arange(4), transform=Flatten())
    assert ds[1][0].shape == (6,)
    xb, tb = ds.get_batch(np.array([3, 0]))
    np.testing.assert_array_equal(xb, x[[3, 0]].reshape(2, 6))
    assert tb.tolist() == [3, 0]


def test_transform_without_batch_method_is_applied_to_each_example():
    ds = ArrayDataset(np.arange(6.0).reshape(3, 2), np.arange(3), transform=lambda v: v[::-1])
    xb, _ = ds.get_batch(np.array([0, 2]))
    np.testing.assert_array_equal(xb, [[1, 0], [5, 4]])


def test_array_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"ArrayDataset: x \(3, 2\) and t \(4,\)"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(4))


def test_array_dataset_rejects_non_callable_transform():
    with pytest.raises(TypeError, match="transform must be callable"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(3), transform=3)


def test_abstract_dataset_names_the_missing_method():
    class Half(Dataset):
        def __len__(self):
            return 1

    with pytest.raises(NotImplementedError, match=r"Half must define __getitem__"):
        Half()[0]


def test_collate_stacks_examples_and_scalar_labels():
    x, t = collate([(np.zeros((2, 2)), 1), (np.ones((2, 2)), 0)])
    assert x.shape == (2, 2, 2) and t.tolist() == [1, 0]


def test_collate_rejects_empty_list():
    with pytest.raises(ValueError, match="collate: got an empty list"):
        collate([])


def test_tensor_dataset_indexes_every_array_and_slices_batches():
    x, t, w = np.arange(12.0).reshape(4, 3), np.array([3, 1, 4, 1]), np.ones((4, 2, 2))
    ds = TensorDataset(x, t, w)
    xi, ti, wi = ds[2]
    np.testing.assert_array_equal(xi, x[2])
    assert ti == 4 and wi.shape == (2, 2) and len(ds) == 4
    xb, tb, wb = ds.get_batch([3, 0])
    np.testing.assert_array_equal(xb, x[[3, 0]])
    assert tb.tolist() == [1, 3] and wb.shape == (2, 2, 2)
    assert len(TensorDataset(x)[0]) == 1  # one array: one-element tuples, as torch


@pytest.mark.parametrize("arrays", [(np.zeros((3, 2)), np.zeros(4)), (np.zeros(3), np.array(1)),
                                    ()])
def test_tensor_dataset_needs_arrays_with_one_length(arrays):
    with pytest.raises(ValueError, match="TensorDataset: "):
        TensorDataset(*arrays)


def test_subset_is_a_view_that_batches_through_the_dataset():
    base = TensorDataset(np.arange(10) * 10)
    subset = Subset(base, [7, 2, 5])
    assert len(subset) == 3 and subset[1][0] == 20 and subset[-1][0] == 50
    assert subset.get_batch([2, 0])[0].tolist() == [50, 70]
    plain = Subset([(np.array([i]), i) for i in range(6)], [4, 1])  # a list as dataset
    x, t = plain.get_batch([0, 1])
    assert x.tolist() == [[4], [1]] and t.tolist() == [4, 1]


def test_random_split_partitions_the_indices_from_the_seed():
    parts = random_split(TensorDataset(np.arange(10)), [5, 3, 2], seed=4)
    assert [len(p) for p in parts] == [5, 3, 2]
    order = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(order, np.random.default_rng(4).permutation(10))
    again = random_split(TensorDataset(np.arange(10)), [5, 3, 2],
                         generator=np.random.default_rng(4))
    assert [p.indices.tolist() for p in again] == [p.indices.tolist() for p in parts]


@pytest.mark.parametrize("n, fractions", [(10, [0.8, 0.2]), (11, [0.5, 0.3, 0.2]),
                                          (7, [1 / 3, 1 / 3, 1 / 3]), (5, [0.1, 0.9])])
def test_random_split_fractions_give_torchs_lengths(n, fractions):
    parts = random_split(TensorDataset(np.arange(n)), fractions, seed=0)
    lengths = [len(p) for p in parts]
    assert sum(lengths) == n
    floors = [int(n * f) for f in fractions]  # then one each, round robin, for the rest
    assert lengths == [f + (i < n - sum(floors)) for i, f in enumerate(floors)]
    if torch is not None:
        import torch.utils.data as tud

        expected = [len(p) for p in tud.random_split(range(n), fractions)]
        assert lengths == expected


def test_random_split_warns_about_an_empty_part():
    with pytest.warns(UserWarning, match="subset at index 1 is empty"):
        parts = random_split(TensorDataset(np.arange(3)), [0.9, 0.1], seed=0)
    assert [len(p) for p in parts] == [3, 0]


@pytest.mark.parametrize("lengths, message", [
    ([3, 3], r"lengths \[3, 3\] sum to 6, but the dataset has 5 examples"),
    ([0.5, 1.5, -1.0], "fraction at index 1 is 1.5"),
    ([2.5, 2.5], "length at index 0 is 2.5"),
])
def test_random_split_refuses_lengths_that_do_not_fit(lengths, message):
    with pytest.raises(ValueError, match=message):
        random_split(TensorDataset(np.arange(5)), lengths, seed=0)


def test_concat_dataset_reads_through_to_each_part():
    from chainrule.data import ConcatDataset

    ds = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    assert len(ds) == 5 and ds.cumulative_sizes == [3, 5]
    assert [int(ds[i][0]) for i in range(5)] == [0, 1, 2, 10, 11]
    assert int(ds[-1][0]) == 11
    assert ds.get_batch([4, 0])[0].tolist() == [11, 0]
    with pytest.raises(IndexError, match="index 5 is out of range for 5 examples"):
        ds[5]
