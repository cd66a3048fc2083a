"""The base of the closed-form schedules: a step counter and a formula per group."""

from chainrule.optim.optimizer import Optimizer


def positive_int(value, owner, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")


def per_group(value, optimizer, owner, what):
    """``value`` for each parameter group: one value for all, or a list with one per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: expected {n} values of {what} (one per parameter "
                             f"group), got {len(value)}")
        return list(value)
    return [value] * n


class LRScheduler:
    """Base of the schedules: ``lr_at(base_lr, epoch)`` gives a group's lr at ``epoch``.

    On construction each group remembers its lr as ``initial_lr`` (kept when already
    there, so schedulers can be chained or rebuilt) and takes ``lr_at(initial_lr, 0)``.
    """

    _hyperparameters = ()  # names of the attributes that state_dict saves

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError(f"{type(self).__name__} must define lr_at() or lrs_at()")

    def lrs_at(self, epoch):
        """Each group's lr at ``epoch`` (a schedule with settings per group overrides this)."""
        return [self.lr_at(base, epoch) for base in self.base_lrs]

    def step(self):
        """Advance one epoch (or one step) and set the optimizer's learning rates."""
        self.last_epoch += 1
        self._apply()

    def _apply(self):
        self._last_lr = self.lrs_at(self.last_epoch)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self):
        """The learning rate of each group, as set by the latest ``step()``."""
        return list(self._last_lr)

    def state_dict(self):
        """``{"last_epoch": int, "base_lrs": [...], hyperparameter: value, ...}``."""
        state = {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}
        state.update({name: getattr(self, name) for name in self._hyperparameters})
        return state

    def load_state_dict(self, state_dict):
        """Restore the counter and hyperparameters, and set the optimizer's lrs to match."""
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = [float(lr) for lr in state_dict["base_lrs"]]
        for name in self._hyperparameters:
            value = state_dict[name]
            setattr(self, name, value.item() if hasattr(value, "item") else value)
        self._apply()

    def __repr__(self):
        settings = ", ".join(f"{k}={v}" for k, v in self.state_dict().items())
        return f"{type(self).__name__}({settings})"
