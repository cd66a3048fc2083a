"""One rule for PyTorch's keyword names beside ours: either may be given, not two different."""

import pytest

from chainrule.core.aliases import either


def test_ours_stands_when_theirs_is_absent():
    assert either("sum", axis=1, dim=None) == 1
    assert either("sum", axis=None, dim=None) is None


def test_theirs_is_taken_when_ours_is_left_at_its_default():
    assert either("sum", axis=None, dim=0) == 0
    assert either("conv2d", pad=0, padding=2, default=0) == 2
    assert either("sum", keepdims=False, keepdim=True, default=False) is True


def test_both_given_and_equal_is_fine():
    assert either("sum", axis=1, dim=1) == 1


def test_both_given_and_different_names_the_function_and_both_keywords():
    with pytest.raises(TypeError, match=r"^softmax: got axis=1 and dim=0; pass only one$"):
        either("softmax", default=-1, axis=1, dim=0)
