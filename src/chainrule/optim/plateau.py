"""ReduceLROnPlateau: cut the learning rate when a watched metric stops improving."""

import math

from chainrule.optim.optimizer import Optimizer


class ReduceLROnPlateau:
    """Multiply each group's lr by ``factor`` after ``patience`` epochs without improvement.

    PyTorch's ReduceLROnPlateau, arguments and defaults. Call ``step(metric)`` once per
    epoch with the validation loss (``mode="min"``) or accuracy (``mode="max"``). A value
    improves on the best so far ``b`` when, for ``mode="min"``::

        rel:  value < b * (1 - threshold)        abs:  value < b - threshold

    (``b * (1 + threshold)`` and ``b + threshold`` from below for ``"max"``). After more than
    ``patience`` epochs in a row without improvement, each lr becomes
    ``max(lr * factor, min_lr)`` (skipped when that changes it by ``eps`` or less), and the
    next ``cooldown`` epochs count no bad epoch. ``min_lr`` is one value or one per group.

    >>> scheduler = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    >>> for epoch in range(epochs):
    ...     scheduler.step(validation_loss(model))
    """

    _hyperparameters = ("mode", "factor", "patience", "threshold", "threshold_mode",
                        "cooldown", "min_lrs", "eps")
    _counters = ("last_epoch", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"ReduceLROnPlateau: expected an Optimizer, got {type(optimizer).__name__}"
            )
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', "
                             f"got {threshold_mode!r}")
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be a non-negative integer, "
                                 f"got {value!r}")
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"ReduceLROnPlateau: expected {n} values of min_lr (one per "
                             f"parameter group), got {len(min_lrs)}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.cooldown = mode, factor, patience, cooldown
        self.threshold, self.threshold_mode, self.min_lrs, self.eps = (
            threshold, threshold_mode, min_lrs, eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.last_epoch = self.num_bad_epochs = self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, value, best):
        """True when ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            bound = best * (1 - self.threshold) if self.threshold_mode == "rel" else (
                best - self.threshold)
            return value < bound
        bound = best * (1 + self.threshold) if self.threshold_mode == "rel" else (
            best + self.threshold)
        return value > bound

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metrics):
        """Record one epoch's ``metrics`` (a number, or a 0-d array or Variable)."""
        value = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self.is_better(value, self.best):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce(self):
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def get_last_lr(self):
        """The learning rate of each group after the latest ``step()``."""
        return list(self._last_lr)

    def state_dict(self):
        """The settings and counters, plain Python values (``best`` may be +-inf)."""
        names = self._hyperparameters + self._counters
        return {name: getattr(self, name) for name in names}

    def load_state_dict(self, state_dict):
        """Restore the settings and counters saved by ``state_dict()``."""
        for name in self._hyperparameters + self._counters:
            value = state_dict[name]
            value = value.tolist() if hasattr(value, "tolist") else value
            setattr(self, name, list(value) if name == "min_lrs" else value)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def __repr__(self):
        settings = ", ".join(f"{k}={getattr(self, k)}" for k in self._hyperparameters)
        return f"ReduceLROnPlateau({settings})"
