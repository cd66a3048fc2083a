import math

import numpy as np
import pytest

from chainrule.nn import Parameter, init


def fresh(shape, dtype=np.float32):
    return Parameter(np.empty(shape, dtype), dtype=dtype)


def test_fans_follow_linear_and_conv_layouts():
    assert init.fans((3, 5)) == (3, 5)  # Linear's W (in, out)
    assert init.fans((8, 4, 3, 3)) == (36, 72)  # Conv2d's W (out, in, kh, kw)
    with pytest.raises(ValueError, match="2 or more axes"):
        init.fans((4,))


@pytest.mark.parametrize("fill", [
    lambda p, rng: init.kaiming_normal_(p, rng=rng),
    lambda p, rng: init.xavier_uniform_(p, rng=rng),
    lambda p, rng: init.xavier_normal_(p, rng=rng),
    lambda p, rng: init.normal_(p, 0.0, 2.0, rng=rng),
    lambda p, rng: init.uniform_(p, -1.0, 1.0, rng=rng),
])
def test_initializers_fill_in_place_repeatably_from_a_generator(fill):
    p, q = fresh((20, 30)), fresh((20, 30))
    array = p.data
    assert fill(p, np.random.default_rng(3)) is p
    fill(q, np.random.default_rng(3))
    assert p.data is array and p.dtype == np.float32
    np.testing.assert_array_equal(p.data, q.data)


def test_global_numpy_seed_repeats_the_default_draw():
    np.random.seed(5)
    a = init.normal_(fresh(10)).data.copy()
    np.random.seed(5)
    np.testing.assert_array_equal(init.normal_(fresh(10)).data, a)


def test_kaiming_normal_has_std_gain_over_root_fan():
    rng = np.random.default_rng(0)
    p = init.he_normal_(fresh((200, 300), np.float64), rng=rng)
    assert abs(p.data.std() - math.sqrt(2 / 200)) < 0.02 * math.sqrt(2 / 200)
    p = init.kaiming_normal_(fresh((200, 300), np.float64), mode="fan_out",
                             nonlinearity="tanh", rng=rng)
    assert abs(p.data.std() - 5 / 3 / math.sqrt(300)) < 0.02 * 5 / 3 / math.sqrt(300)
    assert init.he_normal is init.kaiming_normal_
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(fresh((2, 2)), mode="fan")


def test_xavier_bounds_and_spread():
    rng = np.random.default_rng(1)
    bound = math.sqrt(6 / (100 + 400))
    p = init.xavier_uniform_(fresh((100, 400), np.float64), rng=rng)
    assert p.data.max() <= bound and p.data.min() >= -bound
    assert p.data.max() > 0.99 * bound
    p = init.xavier_normal_(fresh((100, 400), np.float64), gain=2.0, rng=rng)
    assert abs(p.data.std() - 2 * math.sqrt(2 / 500)) < 0.02 * 2 * math.sqrt(2 / 500)


def test_zeros_and_ones():
    p = fresh((2, 3))
    assert np.all(init.zeros_(p).data == 0) and np.all(init.ones_(p).data == 1)


def test_calculate_gain_matches_torch_table():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("sigmoid") == 1.0
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")


def test_uniform_parameter_is_a_new_parameter_within_bounds():
    p = init.uniform_parameter((50, 40), 0.1, rng=np.random.default_rng(0))
    assert isinstance(p, Parameter) and p.dtype == np.float32 and p.shape == (50, 40)
    assert np.abs(p.data).max() <= 0.1
