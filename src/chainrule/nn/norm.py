"""Normalisation layers: BatchNorm over the batch, LayerNorm over each example's features."""

import numpy as np

import chainrule.functions as F
from chainrule.nn.module import Module, positive_int
from chainrule.nn.parameter import Parameter


class _BatchNorm(Module):
    """Shared parts of BatchNorm1d/2d: gamma, beta and the running statistics."""

    input_shape = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(type(self).__name__, "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.gamma = Parameter(np.ones(self.num_features), dtype=dtype)
        self.beta = Parameter(np.zeros(self.num_features), dtype=dtype)
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
        self.num_batches_tracked = 0  # batches seen in training; PyTorch saves it, so we count

    def forward(self, x):
        if x.ndim != len(self.input_shape):
            raise ValueError(
                f"{type(self).__name__}: expected input of shape ({', '.join(self.input_shape)})"
                f", got {tuple(x.shape)}"
            )
        if self.training:
            self.num_batches_tracked += 1
        return F.batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var,
                            training=self.training, momentum=self.momentum, eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """y = gamma (x - mean) / √(var + eps) + beta per feature, over the batch.

    x (N, C) -> y (N, C); gamma, beta (C,). While ``training`` the batch's statistics are
    used and running_mean/running_var (buffers) move toward them by ``momentum`` (unbiased
    variance, as in PyTorch); in eval mode the running statistics are used instead.
    """

    input_shape = ("N", "C")


class BatchNorm2d(_BatchNorm):
    """BatchNorm per channel over the batch and both spatial axes.

    x (N, C, H, W) -> y (N, C, H, W); gamma, beta, running_mean, running_var (C,).
    """

    input_shape = ("N", "C", "H", "W")


class LayerNorm(Module):
    """y = gamma (x - mean) / √(var + eps) + beta over the trailing ``normalized_shape`` axes.

    x (..., *normalized_shape) -> same shape; gamma ones, beta zeros of normalized_shape.
    The statistics are each example's own, so training and eval modes agree.
    """

    def __init__(self, normalized_shape, eps=1e-5, dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(
            positive_int("LayerNorm", "normalized_shape", n) for n in normalized_shape
        )
        self.eps = eps
        self.gamma = Parameter(np.ones(self.normalized_shape), dtype=dtype)
        self.beta = Parameter(np.zeros(self.normalized_shape), dtype=dtype)

    def forward(self, x):
        return F.layer_norm(x, self.gamma, self.beta, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"
