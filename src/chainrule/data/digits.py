"""The 8x8 handwritten digits bundled with chainrule (UCI optdigits test set; see DATA.md)."""

import functools
import gzip
import importlib.resources

import numpy as np

from chainrule.data.dataset import ArrayDataset

DIGITS_FILE = "digits.csv.gz"
N_DIGITS, N_TEST = 1797, 360
SPLIT_SEED = 0  # the fixed permutation behind the train/test split; changing it changes the split


@functools.lru_cache(maxsize=1)
def load_digits_arrays():
    """All 1,797 digits, read once per process: ``(images, labels)``, both read-only.

    images: (1797, 1, 8, 8) float32 in [0, 1] (pixel counts 0..16 divided by 16);
    labels: (1797,) int64 in 0..9.
    """
    resource = importlib.resources.files("chainrule.data").joinpath(DIGITS_FILE)
    try:
        with resource.open("rb") as raw, gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    except (OSError, EOFError, ValueError) as err:
        raise ValueError(
            f"Digits: the bundled file {resource} is missing or damaged ({err}); "
            "reinstall chainrule to restore it"
        ) from None
    if table.shape != (N_DIGITS, 65):
        raise ValueError(
            f"Digits: the bundled file {resource} holds a {table.shape} table instead of "
            f"({N_DIGITS}, 65); reinstall chainrule to restore it"
        )
    images = (table[:, :64].reshape(-1, 1, 8, 8) / np.float32(16)).astype(np.float32)
    labels = table[:, 64].copy()
    # Read-only: every Digits instance shares these arrays, so no one may change them in place.
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits_split(train):
    """Indices of the train (1,437) or test (360) examples: a fixed seeded permutation.

    ``permutation = default_rng(0).permutation(1797)``; its first 1,437 entries are the
    training set and the last 360 the test set (not stratified: each class has 27 to 47
    test examples).
    """
    order = np.random.default_rng(SPLIT_SEED).permutation(N_DIGITS)
    return np.sort(order[: N_DIGITS - N_TEST] if train else order[N_DIGITS - N_TEST :])


class Digits(ArrayDataset):
    """8x8 handwritten digits: x (1, 8, 8) float32 in [0, 1], t int64 in 0..9.

    1,797 images of the UCI optdigits test set (Alpaydin & Kaynak, CC BY 4.0), bundled with
    chainrule, so no download is needed. ``train=True`` gives 1,437 examples, ``train=False``
    the other 360 (see ``digits_split``). The file is read once per process.

    >>> ds = Digits()
    >>> len(ds), ds[0][0].shape, ds[0][0].dtype, len(Digits(train=False))
    (1437, (1, 8, 8), dtype('float32'), 360)
    """

    def __init__(self, train=True, transform=None):
        images, labels = load_digits_arrays()
        index = digits_split(train)
        super().__init__(images[index], labels[index], transform=transform)
        self.train = bool(train)
