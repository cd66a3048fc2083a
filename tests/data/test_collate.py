"""collate: torch's default_collate structure and values, in NumPy."""

from collections import namedtuple

import numpy as np
import pytest

from chainrule.data import collate, default_collate
from harness import torch

Pair = namedtuple("Pair", "x t")


def examples():
    rng = np.random.default_rng(0)
    return [{"image": rng.standard_normal((2, 3)).astype(np.float32), "label": i,
             "weight": 0.5 * i, "meta": (np.int16(i), [i, i + 1]), "name": f"ex{i}"}
            for i in range(3)]


def test_nested_dicts_tuples_lists_numbers_and_strings_stack_leaf_by_leaf():
    batch = collate(examples())
    assert sorted(batch) == ["image", "label", "meta", "name", "weight"]
    assert batch["image"].shape == (3, 2, 3) and batch["image"].dtype == np.float32
    assert batch["label"].dtype == np.int64 and batch["label"].tolist() == [0, 1, 2]
    assert batch["weight"].dtype == np.float64 and batch["weight"].tolist() == [0, 0.5, 1]
    first, second = batch["meta"]
    assert isinstance(batch["meta"], tuple) and first.dtype == np.int16
    assert isinstance(second, list) and [a.tolist() for a in second] == [[0, 1, 2], [1, 2, 3]]
    assert batch["name"] == ["ex0", "ex1", "ex2"]
    assert default_collate is collate


def to_numpy(tree):
    if isinstance(tree, dict):
        return {k: to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [to_numpy(v) for v in tree]
    return tree.numpy() if hasattr(tree, "numpy") else tree


def assert_same(ours, theirs):
    if isinstance(theirs, dict):
        assert sorted(ours) == sorted(theirs)
        for key in theirs:
            assert_same(ours[key], theirs[key])
    elif isinstance(theirs, list) and not isinstance(theirs[0], str):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    elif isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    else:
        assert ours == theirs


def test_same_batches_as_torch_default_collate():
    if torch is None:
        pytest.skip("torch is not installed")
    from torch.utils.data import default_collate as torch_collate

    assert_same(collate(examples()), to_numpy(torch_collate(examples())))
    pairs = [(np.arange(3.0) + i, np.int64(i)) for i in range(4)]
    assert_same(collate(pairs), to_numpy(torch_collate(pairs)))


def test_named_tuples_keep_their_type():
    batch = collate([Pair(np.zeros(2), 1), Pair(np.ones(2), 0)])
    assert isinstance(batch, Pair) and batch.x.shape == (2, 2) and batch.t.tolist() == [1, 0]


@pytest.mark.parametrize("samples, error, message", [
    ([], ValueError, "empty list"),
    ([np.zeros(2), np.zeros(3)], ValueError, r"shapes \(2,\) and \(3,\) do not stack"),
    ([(1, 2), (1, 2, 3)], ValueError, "2 and 3 fields"),
    ([{"x": 1}, {"y": 2}], KeyError, "lacks the key 'x'"),
])
def test_examples_that_do_not_stack_are_one_sentence(samples, error, message):
    with pytest.raises(error, match=message):
        collate(samples)
