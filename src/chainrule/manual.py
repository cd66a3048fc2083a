"""Layers by hand: explicit ``forward`` and ``backward(dout)``, as in the seeds' backprop chapter.

Each layer caches what its backward needs during ``forward``; ``backward``
receives the gradient of the loss with respect to the layer's output (``dout``)
and returns the gradient with respect to its input, by the chain rule. Call the
layers' ``backward`` in the reverse order of their ``forward`` calls::

    mul_apple, mul_tax = MulLayer(), MulLayer()
    price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)    # 220.00000000000003
    dapple_price, dtax = mul_tax.backward(1)                   # 1.1, 200
    dapple, dapple_num = mul_apple.backward(dapple_price)      # 2.2, 110.00000000000001

NumPy only: this module imports nothing from the rest of chainrule, so it reads
on its own; tests check every rule against the autograd engine.
"""

from collections import OrderedDict

import numpy as np


class MulLayer:
    """Multiplication node: out = x * y;  dx = dout * y, dy = dout * x (the inputs swap)."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout):
        dx = dout * self.y
        dy = dout * self.x
        return dx, dy


class AddLayer:
    """Addition node: out = x + y;  dx = dy = dout (the gradient passes through unchanged)."""

    def __init__(self):
        pass

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        dx = dout * 1
        dy = dout * 1
        return dx, dy


class Relu:
    """out = max(0, x);  dx = dout where x > 0 and 0 where x <= 0 (relu'(0) = 0, as in PyTorch).

    ``dout`` is never modified: backward returns a new array.
    """

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, dout):
        return np.where(self.mask, 0, dout)


class Sigmoid:
    """out = 1 / (1 + exp(-x));  dx = dout * out * (1 - out), from the cached output."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        # 1/(1+e^-x) = (1 + tanh(x/2)) / 2, which never overflows for large |x|.
        self.out = 0.5 * (1 + np.tanh(0.5 * x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)


class Affine:
    """out = x @ W + b;  dx = dout @ Wᵀ, dW = xᵀ @ dout, db = Σ_rows dout.

    x (N, ...) is flattened to (N, D); W (D, M); b (M,); out (N, M). Backward
    stores ``dW`` and ``db`` and returns dx in x's original shape.
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(self.original_x_shape)


def log_softmax(x):
    """log softmax(x)_i = z_i - log Σ_j exp z_j with z = x - max x, over the last axis.

    Shifting by the max keeps exp from overflowing; the result is finite for finite x.
    """
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def cross_entropy_error(log_y, t):
    """L = -(1/N) Σ_n log y[n, t_n] for labels t (N,), or -(1/N) Σ t log y for one-hot t (N, C),
    from log-probabilities ``log_y`` (N, C) so that y = 0 never meets log."""
    n = log_y.shape[0]
    if t.shape == log_y.shape:
        return -np.sum(t * log_y) / n
    return -np.sum(log_y[np.arange(n), t]) / n


class SoftmaxWithLoss:
    """L = cross_entropy(softmax(x), t), the batch mean;  dx = dout * (softmax(x) - onehot(t)) / N.

    x (N, C) scores; t (N,) integer labels or (N, C) one-hot; L a float.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        if x.ndim != 2:
            raise ValueError(f"SoftmaxWithLoss: x must be (N, C) scores, got shape {x.shape}")
        log_y = log_softmax(x)
        self.t = t
        self.y = np.exp(log_y)
        self.loss = cross_entropy_error(log_y, t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.y.shape[0]
        if self.t.shape == self.y.shape:
            dx = self.y - self.t
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
        return dx * (dout / batch_size)


class Dropout:
    """Dropout as "Deep Learning from Scratch" writes it (not inverted dropout).

    train (train_flg=True): out = x * m, m = (u > dropout_ratio), u ~ U[0, 1) per element;
    dx = dout * m.  test (train_flg=False): out = x * (1 - dropout_ratio).

    Training keeps each element with probability 1 - dropout_ratio and leaves it unscaled,
    so the test pass scales by 1 - dropout_ratio to give the same expected value: the
    book's choice. ``chainrule.nn.Dropout`` and ``F.dropout`` are inverted dropout, as in
    PyTorch: they scale by 1 / (1 - p) in training and leave the test pass alone. The mask
    comes from ``np.random``, so ``np.random.seed`` makes it repeatable.
    """

    def __init__(self, dropout_ratio=0.5):
        if not 0 <= dropout_ratio <= 1:
            raise ValueError(f"Dropout: dropout_ratio must be in [0, 1], got {dropout_ratio}")
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


def _to_rows(x):
    """(N, C, H, W) -> (N*H*W, C), so that each channel is one feature; (N, D) unchanged."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1]) if x.ndim == 4 else x


def _from_rows(a, shape):
    """The inverse of ``_to_rows`` for an input of ``shape``."""
    if len(shape) != 4:
        return a
    n, c, h, w = shape
    return a.reshape(n, h, w, c).transpose(0, 3, 1, 2)


class BatchNormalization:
    """Train: out = γ x̂ + β, x̂ = (x - μ) / √(σ² + ε) with the batch's μ, σ² per feature;
    dβ = Σ dout, dγ = Σ dout x̂, dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / √(σ² + ε), dx̂ = γ dout.

    Running estimates, updated in place: r ← momentum r + (1 - momentum) batch value
    (variance unbiased, as in PyTorch, whose momentum is 1 - this one). Test mode
    normalises with them, so there dx = γ dout / √(r_var + ε).
    x (N, D) with γ, β (D,), or (N, C, H, W) with γ, β (C,), normalised per channel.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        self.gamma, self.beta, self.momentum, self.eps = gamma, beta, momentum, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.input_shape = self.train_flg = self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape, self.train_flg = x.shape, train_flg
        x = _to_rows(x)
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(x.shape[1]), np.ones(x.shape[1])
        mu, var = self.running_mean, self.running_var
        if train_flg:
            mu, var, n, m = x.mean(axis=0), x.var(axis=0), x.shape[0], self.momentum
            self.running_mean[...] = m * self.running_mean + (1 - m) * mu
            self.running_var[...] = m * self.running_var + (1 - m) * var * n / max(n - 1, 1)
        self.std = np.sqrt(var + self.eps)
        self.xn = (x - mu) / self.std
        return _from_rows(self.gamma * self.xn + self.beta, self.input_shape)

    def backward(self, dout):
        dout = _to_rows(dout)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(dout * self.xn, axis=0)
        dxn = self.gamma * dout
        if self.train_flg:
            dxn = dxn - dxn.mean(axis=0) - self.xn * np.mean(dxn * self.xn, axis=0)
        return _from_rows(dxn / self.std, self.input_shape)


def numerical_gradient(f, x, h=1e-4):
    """Central differences: df/dx_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h, x changed in place
    and restored; same shape as x."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + h
        plus = f(x)
        x[idx] = saved - h
        minus = f(x)
        x[idx] = saved
        grad[idx] = (plus - minus) / (2 * h)
    return grad


class TwoLayerNet:
    """Affine → Relu → Affine → SoftmaxWithLoss, with gradients by backprop or by differences.

    x (N, input_size) (or (N, ...) flattening to it); t (N,) labels or (N, C) one-hot.
    ``params`` holds W1 b1 W2 b2, the very arrays the Affine layers use, so an
    in-place update ``params[k] -= lr * grads[k]`` trains the network.
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }
        p = self.params
        self.layers = OrderedDict(
            Affine1=Affine(p["W1"], p["b1"]), Relu1=Relu(), Affine2=Affine(p["W2"], p["b2"])
        )
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        labels = t if t.ndim == 1 else np.argmax(t, axis=1)
        return float(np.mean(y == labels))

    def numerical_gradient(self, x, t):
        return {k: numerical_gradient(lambda _: self.loss(x, t), p) for k, p in self.params.items()}

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        a1, a2 = self.layers["Affine1"], self.layers["Affine2"]
        return {"W1": a1.dW, "b1": a1.db, "W2": a2.dW, "b2": a2.db}
