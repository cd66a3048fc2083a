"""Normalisation layers: BatchNorm over the batch, LayerNorm over each example's features."""

import numpy as np

import chainrule.functions as F
from chainrule.backend import get_array_module
from chainrule.nn.module import Module, positive_int
from chainrule.nn.parameter import Parameter


class _BatchNorm(Module):
    """Shared parts of BatchNorm1d/2d: gamma, beta and the running statistics.

    As in PyTorch: ``affine=False`` learns no gamma and beta; ``track_running_stats=False``
    keeps no running statistics and normalises with the batch's in eval mode too;
    ``momentum=None`` makes the running statistics a plain average over all batches seen.
    """

    input_shapes = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(type(self).__name__, "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.gamma = self.beta = None
        if affine:
            self.gamma = Parameter(np.ones(self.num_features), dtype=dtype)
            self.beta = Parameter(np.zeros(self.num_features), dtype=dtype)
        tracked = bool(track_running_stats)
        self.register_buffer("running_mean", np.zeros(num_features, dtype) if tracked else None)
        self.register_buffer("running_var", np.ones(num_features, dtype) if tracked else None)
        self.num_batches_tracked = 0  # batches seen in training; PyTorch saves it, so we count

    def forward(self, x):
        if x.ndim not in (len(shape) for shape in self.input_shapes):
            shapes = " or ".join(f"({', '.join(shape)})" for shape in self.input_shapes)
            raise ValueError(f"{type(self).__name__}: expected input of shape {shapes}, "
                             f"got {tuple(x.shape)}")
        tracked = self.running_mean is not None
        momentum = self.momentum
        if self.training and tracked:
            self.num_batches_tracked += 1
            if momentum is None:
                momentum = 1.0 / self.num_batches_tracked
        gamma, beta = self.gamma, self.beta
        if gamma is None:
            xp = get_array_module(x.data)
            gamma = xp.ones(self.num_features, x.dtype)
            beta = xp.zeros(self.num_features, x.dtype)
        sequence = x.ndim == 3  # (N, C, L) is normalised as (N, C, L, 1)
        if sequence:
            x = F.expand_dims(x, 3)
        y = F.batch_norm(x, gamma, beta, self.running_mean, self.running_var,
                         training=self.training or not tracked, momentum=momentum, eps=self.eps)
        return y[..., 0] if sequence else y

    def extra_repr(self):
        text = f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
        if self.gamma is None:
            text += ", affine=False"
        if self.running_mean is None:
            text += ", track_running_stats=False"
        return text


class BatchNorm1d(_BatchNorm):
    """y = gamma (x - mean) / √(var + eps) + beta per feature, over the batch.

    x (N, C) or (N, C, L) -> the same shape; gamma, beta (C,), the statistics over N (and L).
    While ``training`` the batch's statistics are used and running_mean/running_var
    (buffers) move toward them by ``momentum`` (unbiased variance, as in PyTorch); in eval
    mode the running statistics are used instead.
    """

    input_shapes = (("N", "C"), ("N", "C", "L"))


class BatchNorm2d(_BatchNorm):
    """BatchNorm per channel over the batch and both spatial axes.

    x (N, C, H, W) -> y (N, C, H, W); gamma, beta, running_mean, running_var (C,).
    """

    input_shapes = (("N", "C", "H", "W"),)


class LayerNorm(Module):
    """y = gamma (x - mean) / √(var + eps) + beta over the trailing ``normalized_shape`` axes.

    x (..., *normalized_shape) -> same shape; gamma ones, beta zeros of normalized_shape
    (none with ``elementwise_affine=False``, no beta with ``bias=False``, as in PyTorch).
    The statistics are each example's own, so training and eval modes agree.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(
            positive_int("LayerNorm", "normalized_shape", n) for n in normalized_shape
        )
        self.eps = eps
        self.gamma = self.beta = None
        if elementwise_affine:
            self.gamma = Parameter(np.ones(self.normalized_shape), dtype=dtype)
            if bias:
                self.beta = Parameter(np.zeros(self.normalized_shape), dtype=dtype)

    def forward(self, x):
        gamma, beta = self.gamma, self.beta
        if gamma is None or beta is None:
            xp = get_array_module(x.data)
            gamma = xp.ones(self.normalized_shape, x.dtype) if gamma is None else gamma
            beta = xp.zeros(self.normalized_shape, x.dtype)
        return F.layer_norm(x, gamma, beta, self.eps)

    def extra_repr(self):
        text = f"{self.normalized_shape}, eps={self.eps}"
        if self.gamma is None:
            return text + ", elementwise_affine=False"
        return text if self.beta is not None else text + ", bias=False"


class GroupNorm(Module):
    """y = gamma (x - mean) / √(var + eps) + beta, the statistics over each group of channels.

    x (N, C, ...) -> same shape; the C channels form ``num_groups`` groups of C / num_groups,
    each normalised over its channels and all positions (one example at a time, so training
    and eval agree); gamma, beta (C,), none with ``affine=False``.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        self.num_groups = positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = positive_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels {num_channels} is not divisible by "
                             f"num_groups {num_groups}")
        self.eps = eps
        self.gamma = self.beta = None
        if affine:
            self.gamma = Parameter(np.ones(num_channels), dtype=dtype)
            self.beta = Parameter(np.zeros(num_channels), dtype=dtype)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, ...), got "
                             f"{tuple(x.shape)}")
        groups = F.reshape(x, (x.shape[0], self.num_groups, -1))
        xp = get_array_module(groups.data)
        width = groups.shape[-1:]
        y = F.reshape(F.layer_norm(groups, xp.ones(width, x.dtype), xp.zeros(width, x.dtype),
                                   self.eps), x.shape)
        if self.gamma is None:
            return y
        shape = (1, self.num_channels) + (1,) * (x.ndim - 2)
        return y * F.reshape(self.gamma, shape) + F.reshape(self.beta, shape)

    def extra_repr(self):
        affine = "" if self.gamma is not None else ", affine=False"
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}{affine}"
