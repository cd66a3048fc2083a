import platform

import numpy as np
import pytest

from chainrule import backend


def test_numpy_arrays_and_numbers_belong_to_numpy():
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(3.0) is np


@pytest.mark.parametrize("device, expected", [("cpu", ("cpu", 0)), ("CUDA", ("cuda", 0)),
                                              ("cuda:1", ("cuda", 1))])
def test_device_strings_are_normalised(device, expected):
    assert backend.parse_device(device) == expected


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu:0"])
def test_unknown_devices_are_refused_in_one_sentence(device):
    with pytest.raises(ValueError, match="unknown device"):
        backend.parse_device(device)


def test_to_cpu_is_the_same_numpy_array():
    a = np.arange(3.0)
    assert backend.to_device(a, "cpu") is a and backend.device_of(a) == "cpu"


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_names_the_extra():
    with pytest.raises(RuntimeError, match=r'pip install "chainrule\[gpu\]"'):
        backend.to_device(np.ones(2), "cuda")


@pytest.mark.parametrize("index", [np.array([0, 0, 2]), (slice(None), 1), 1])
def test_scatter_add_adds_every_repeat(index):
    target, values = np.zeros((3, 2)), np.ones((3, 2))[index]
    expected = np.zeros((3, 2))
    np.add.at(expected, index, values)
    backend.scatter_add(target, index, values)
    np.testing.assert_array_equal(target, expected)


def test_keep_freed_memory_applies_on_glibc_only():
    applied = backend.keep_freed_memory()
    assert applied == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    assert backend.keep_freed_memory() == applied  # idempotent
