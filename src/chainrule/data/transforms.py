"""Transforms: plain callables on one example ``x``, each also usable on a whole batch.

``transform(x)`` takes one example; ``transform.batch(xb)`` does the same to every example of a
batch ``xb`` (first axis = examples) in one array operation, which ``ArrayDataset`` uses so a
transform costs no Python loop per example. Any callable works as a transform; one without
``batch`` is applied example by example.
"""

import numpy as np


def _apply_batch(transform, xb):
    """``transform`` on each example of ``xb``: its ``batch`` method when it has one."""
    batch = getattr(transform, "batch", None)
    if batch is not None:
        return batch(xb)
    return np.stack([np.asarray(transform(x)) for x in xb])


class Compose:
    """Chain transforms: ``Compose([f, g])(x) = g(f(x))``.

    >>> Compose([Flatten(), Normalize(0.5, 0.5)])(np.ones((1, 2, 2), np.float32))
    array([1., 1., 1., 1.], dtype=float32)
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def batch(self, xb):
        for t in self.transforms:
            xb = _apply_batch(t, xb)
        return xb

    def __repr__(self):
        return f"Compose({self.transforms!r})"


class Normalize:
    """y = (x - mean) / std, with ``mean`` and ``std`` broadcast against one example.

    Scalars apply to every element; for per-channel statistics of a (C, H, W) image give
    arrays of shape (C, 1, 1). The result keeps the dtype of ``x``.
    """

    def __init__(self, mean, std):
        self.mean, self.std = np.asarray(mean), np.asarray(std)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std!r}")

    def __call__(self, x):
        x = np.asarray(x)
        return (x - self.mean.astype(x.dtype)) / self.std.astype(x.dtype)

    batch = __call__  # broadcasting aligns trailing axes, so a batch needs nothing more

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """One example of shape (d_1, ..., d_k) -> (d_1 * ... * d_k,); a batch (N, ...) -> (N, -1)."""

    def __call__(self, x):
        return np.asarray(x).reshape(-1)

    def batch(self, xb):
        xb = np.asarray(xb)
        return xb.reshape(len(xb), -1)

    def __repr__(self):
        return "Flatten()"


class ToFloat:
    """y = scale * x as a floating array (float32 by default), e.g. ``ToFloat(1 / 255)``."""

    def __init__(self, scale=1.0, dtype=np.float32):
        self.scale, self.dtype = scale, np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"ToFloat: dtype must be a floating type, got {self.dtype}")

    def __call__(self, x):
        y = np.asarray(x).astype(self.dtype)
        if self.scale != 1.0:
            y *= self.dtype.type(self.scale)
        return y

    batch = __call__

    def __repr__(self):
        return f"ToFloat(scale={self.scale!r}, dtype={self.dtype.name})"
