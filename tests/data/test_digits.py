"""Digits: the bundled UCI 8x8 digits and its fixed split."""

import gzip
import hashlib
import importlib.resources

import numpy as np

from chainrule.data import DataLoader, Digits
from chainrule.data.digits import digits_split, load_digits_arrays

BUNDLED_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def test_bundled_file_is_the_scikit_learn_copy():
    data = importlib.resources.files("chainrule.data").joinpath("digits.csv.gz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == BUNDLED_SHA256
    assert len(gzip.decompress(data).splitlines()) == 1797


def test_digits_shapes_dtypes_and_ranges():
    for train, n in [(True, 1437), (False, 360)]:
        ds = Digits(train=train)
        assert len(ds) == n
        assert ds.x.shape == (n, 1, 8, 8) and ds.x.dtype == np.float32
        assert ds.t.shape == (n,) and ds.t.dtype == np.int64
        assert ds.x.min() == 0.0 and ds.x.max() == 1.0
        assert set(ds.t.tolist()) == set(range(10))
        x, t = ds[0]
        assert x.shape == (1, 8, 8) and 0 <= t <= 9


def test_pixels_are_counts_divided_by_16():
    images, _ = load_digits_arrays()
    np.testing.assert_array_equal(images * 16, np.round(images * 16))
    first_row = [0, 0, 5, 13, 9, 1, 0, 0]  # the first image in the UCI file
    np.testing.assert_array_equal(images[0, 0, 0] * 16, first_row)


def test_train_and_test_are_disjoint_and_cover_all_digits():
    train_index, test_index = digits_split(True), digits_split(False)
    assert len(train_index) == 1437 and len(test_index) == 360
    assert np.intersect1d(train_index, test_index).size == 0
    np.testing.assert_array_equal(np.union1d(train_index, test_index), np.arange(1797))
    images, labels = load_digits_arrays()
    for train, index in [(True, train_index), (False, test_index)]:
        ds = Digits(train=train)
        np.testing.assert_array_equal(ds.x, images[index])
        np.testing.assert_array_equal(ds.t, labels[index])


def test_split_is_the_same_every_time():
    a, b = Digits(train=False), Digits(train=False)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.t, b.t)


def test_cached_arrays_are_shared_and_read_only():
    assert load_digits_arrays() is load_digits_arrays()
    images, _ = load_digits_arrays()
    assert not images.flags.writeable
    ds = Digits()
    ds.x[0] = 0  # an instance owns its copy, so changing it leaves the cache alone
    assert Digits().x[0].any()


def test_digits_batches_through_dataloader():
    x, t = next(iter(DataLoader(Digits(), batch_size=32, shuffle=True, seed=0)))
    assert x.shape == (32, 1, 8, 8) and t.shape == (32,)
