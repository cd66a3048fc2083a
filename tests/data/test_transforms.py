"""Transforms: each one on a single example, and its batch form agreeing with it."""

import numpy as np
import pytest

from chainrule.data.transforms import Compose, Flatten, Normalize, ToFloat

EXAMPLES = np.random.default_rng(0).integers(0, 256, size=(5, 1, 4, 4)).astype(np.uint8)

TRANSFORMS = {
    "flatten": Flatten(),
    "to_float": ToFloat(1 / 255),
    "compose": Compose([ToFloat(1 / 255), Normalize(0.5, 0.25), Flatten()]),
    "compose_with_lambda": Compose([ToFloat(), lambda v: v[:, ::-1]]),
}


@pytest.mark.parametrize("transform", TRANSFORMS.values(), ids=TRANSFORMS.keys())
def test_batch_form_equals_applying_to_each_example(transform):
    each = np.stack([transform(x) for x in EXAMPLES])
    np.testing.assert_allclose(transform.batch(EXAMPLES), each, rtol=1e-6)


def test_flatten_one_example_and_a_batch():
    assert Flatten()(np.zeros((1, 28, 28))).shape == (784,)
    assert Flatten().batch(np.zeros((6, 1, 28, 28))).shape == (6, 784)


def test_to_float_scales_uint8_to_unit_interval_in_float32():
    y = ToFloat(1 / 255)(np.array([0, 51, 255], np.uint8))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [0, 0.2, 1], rtol=1e-6)


def test_to_float_rejects_integer_dtype():
    with pytest.raises(ValueError, match="ToFloat: dtype must be a floating type, got int32"):
        ToFloat(dtype=np.int32)


def test_normalize_per_channel_keeps_dtype():
    x = np.ones((2, 3, 3), np.float32)
    y = Normalize(np.array([1.0, 0.0]).reshape(2, 1, 1), np.array([1.0, 0.5]).reshape(2, 1, 1))(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[0], 0)
    np.testing.assert_array_equal(y[1], 2)


def test_normalize_rejects_zero_std():
    with pytest.raises(ValueError, match="Normalize: std must be non-zero"):
        Normalize(0.0, [1.0, 0.0])


def test_compose_applies_in_order_and_rejects_non_callables():
    assert Compose([lambda v: v + 1, lambda v: v * 10])(1) == 20
    with pytest.raises(TypeError, match="Compose: every transform must be callable"):
        Compose([Flatten(), "flatten"])
