"""Dataset, ArrayDataset and collate."""

import numpy as np
import pytest

from chainrule.data import ArrayDataset, Dataset, collate
from chainrule.data.transforms import Flatten


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
