"""Initializers: fill a Parameter's array in place from a seedable random source; return it.

Each takes ``rng=None``: a ``numpy.random.Generator`` (``np.random.default_rng(0)``) for a
repeatable draw, or None for the global ``np.random`` (so ``np.random.seed`` also works).
Values are drawn with NumPy and copied into the array, which keeps its dtype and device.

Fans follow chainrule's layouts: a 2-D weight is ``(in, out)`` as in ``Linear``; a weight
with more axes is ``(out, in, kh, kw)`` as in ``Conv2d``, where each fan is multiplied by
the kernel's size.
"""

import math

import numpy as np

from chainrule.backend import device_of, to_device
from chainrule.core import Variable
from chainrule.nn.parameter import Parameter


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through ``nonlinearity``.

    linear, sigmoid: 1;  tanh: 5/3;  relu: √2;  leaky_relu: √(2 / (1 + slope²)) with
    slope ``param`` (0.01 when None);  selu: 3/4.
    """
    if nonlinearity in ("linear", "identity", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def fans(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape``: (in, out) for 2-D, else (out, in, k...)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out need a weight of 2 or more axes, got {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _array(param):
    return param.data if isinstance(param, Variable) else param


def _fill(param, values):
    """Copy NumPy ``values`` into ``param``'s array, on its device and in its dtype."""
    data = _array(param)
    data[...] = to_device(values, device_of(data))
    return param


def _source(rng):
    return np.random if rng is None else rng


def uniform_(param, a=0.0, b=1.0, rng=None):
    """W ~ U(a, b)."""
    return _fill(param, _source(rng).uniform(a, b, size=_array(param).shape))


def normal_(param, mean=0.0, std=1.0, rng=None):
    """W ~ N(mean, std²)."""
    return _fill(param, _source(rng).normal(mean, std, size=_array(param).shape))


def zeros_(param):
    """W = 0."""
    _array(param)[...] = 0
    return param


def ones_(param):
    """W = 1."""
    _array(param)[...] = 1
    return param


def kaiming_normal_(param, a=0.0, mode="fan_in", nonlinearity="relu", rng=None):
    """He initialisation: W ~ N(0, std²), std = gain / √fan (gain √2 for relu).

    ``mode='fan_in'`` keeps the forward activations' variance, ``'fan_out'`` the backward
    gradients'; ``a`` is the leaky_relu slope.
    """
    fan_in, fan_out = fans(_array(param).shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_normal_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(param, 0.0, std, rng)


he_normal_ = kaiming_normal_
he_normal = kaiming_normal_


def xavier_uniform_(param, gain=1.0, rng=None):
    """Glorot initialisation: W ~ U(-bound, bound), bound = gain √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(_array(param).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(param, -bound, bound, rng)


def xavier_normal_(param, gain=1.0, rng=None):
    """Glorot initialisation: W ~ N(0, std²), std = gain √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(_array(param).shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(param, 0.0, std, rng)


def uniform_parameter(shape, bound, dtype=np.float32, rng=None):
    """A new Parameter of ``shape`` drawn U(-bound, bound), the layers' default start."""
    return uniform_(Parameter(np.empty(shape, dtype), dtype=dtype), -bound, bound, rng)
