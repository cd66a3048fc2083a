"""Learning-rate schedules: StepLR, CosineAnnealingLR and LinearWarmup.

A scheduler owns a counter ``last_epoch`` (0 after construction) and sets every
parameter group's ``lr`` from the group's initial lr by a closed formula, so a
schedule resumes exactly from its ``state_dict``. Call ``step()`` once per epoch
(or once per optimizer step for warmups), after ``optimizer.step()``::

    scheduler = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        scheduler.step()
"""

import math

from chainrule.optim.optimizer import Optimizer


def _positive_int(value, owner, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")


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
        raise NotImplementedError(f"{type(self).__name__} must define lr_at()")

    def step(self):
        """Advance one epoch (or one step) and set the optimizer's learning rates."""
        self.last_epoch += 1
        self._apply()

    def _apply(self):
        self._last_lr = [self.lr_at(base, self.last_epoch) for base in self.base_lrs]
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


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs (PyTorch's StepLR).

        lr = initial_lr * gamma ** (epoch // step_size)
    """

    _hyperparameters = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        _positive_int(step_size, "StepLR", "step_size")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial lr down to ``eta_min`` over ``T_max`` epochs.

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    As PyTorch's CosineAnnealingLR (SGDR without restarts); past ``T_max`` the
    cosine goes on, climbing back to the initial lr at ``2 * T_max``.
    """

    _hyperparameters = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0):
        _positive_int(T_max, "CosineAnnealingLR", "T_max")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        cosine = 1 + math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * cosine / 2


class LinearWarmup(LRScheduler):
    """Ramp the lr linearly from ``start_factor * initial_lr`` up to ``initial_lr``.

        lr = initial_lr * (start_factor + (1 - start_factor) * min(step, warmup_steps)
                           / warmup_steps)

    Call ``step()`` after every optimizer step; after ``warmup_steps`` calls the lr
    stays at ``initial_lr``. Equal to PyTorch's
    ``LinearLR(opt, start_factor, end_factor=1.0, total_iters=warmup_steps)``, whose
    default ``start_factor=1/3`` it shares; ``0 < start_factor <= 1``.

    >>> warmup = LinearWarmup(opt, warmup_steps=500, start_factor=0.01)
    """

    _hyperparameters = ("warmup_steps", "start_factor")

    def __init__(self, optimizer, warmup_steps, start_factor=1.0 / 3):
        _positive_int(warmup_steps, "LinearWarmup", "warmup_steps")
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearWarmup: start_factor must be in (0, 1], got {start_factor}")
        self.warmup_steps, self.start_factor = warmup_steps, start_factor
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        progress = min(epoch, self.warmup_steps) / self.warmup_steps
        return base_lr * (self.start_factor + (1 - self.start_factor) * progress)
