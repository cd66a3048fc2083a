"""Learning-rate schedules, PyTorch's names, arguments and values.

StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR(WarmRestarts), LinearLR (and
LinearWarmup, its warmup), ConstantLR, PolynomialLR, LambdaLR, OneCycleLR and SequentialLR
own a counter ``last_epoch`` (0 after construction) and set every parameter group's ``lr``
from the group's initial lr by a closed formula, so a schedule resumes exactly from its
``state_dict``. ReduceLROnPlateau (``plateau.py``) instead watches a metric. Call
``step()`` once per epoch (or once per optimizer step for warmups and OneCycleLR), after
``optimizer.step()``::

    scheduler = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        scheduler.step()

Unlike torch's chained forms, a closed formula ignores an lr set by hand between steps.
"""

import bisect
import math

from chainrule.optim.one_cycle import OneCycleLR
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.plateau import ReduceLROnPlateau
from chainrule.optim.scheduler import LRScheduler, per_group, positive_int

__all__ = ["ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "ExponentialLR",
           "LRScheduler", "LambdaLR", "LinearLR", "LinearWarmup", "MultiStepLR", "OneCycleLR",
           "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR"]

class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs (PyTorch's StepLR).

        lr = initial_lr * gamma ** (epoch // step_size)
    """

    _hyperparameters = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        positive_int(step_size, "StepLR", "step_size")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """Decay by ``gamma`` at each milestone epoch (PyTorch's MultiStepLR).

        lr = initial_lr * gamma ** (number of milestones <= epoch)

    A milestone listed twice decays twice, as in torch.

    >>> scheduler = MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    _hyperparameters = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma=0.1):
        milestones = list(milestones)
        for m in milestones:
            positive_int(m, "MultiStepLR", "each milestone")
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every epoch (PyTorch's ExponentialLR).

        lr = initial_lr * gamma ** epoch
    """

    _hyperparameters = ("gamma",)

    def __init__(self, optimizer, gamma):
        if not gamma > 0:
            raise ValueError(f"ExponentialLR: gamma must be positive, got {gamma}")
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma**epoch


class LambdaLR(LRScheduler):
    """The initial lr times a function of the epoch (PyTorch's LambdaLR).

        lr = initial_lr * lr_lambda(epoch)

    ``lr_lambda`` is one function for every group or a list with one per group. The
    functions are not in ``state_dict``: build the scheduler with the same functions,
    then load the counter.

    >>> scheduler = LambdaLR(opt, lambda epoch: 0.95 ** epoch)
    """

    def __init__(self, optimizer, lr_lambda):
        if isinstance(optimizer, Optimizer):
            lr_lambda = per_group(lr_lambda, optimizer, "LambdaLR", "lr_lambda")
            for f in lr_lambda:
                if not callable(f):
                    raise TypeError(f"LambdaLR: lr_lambda must be callable, got {f!r}")
        self.lr_lambdas = lr_lambda
        super().__init__(optimizer)

    def lrs_at(self, epoch):
        return [base * f(epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial lr down to ``eta_min`` over ``T_max`` epochs.

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    As PyTorch's CosineAnnealingLR (SGDR without restarts); past ``T_max`` the
    cosine goes on, climbing back to the initial lr at ``2 * T_max``.
    """

    _hyperparameters = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0):
        positive_int(T_max, "CosineAnnealingLR", "T_max")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        cosine = 1 + math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * cosine / 2


class LinearLR(LRScheduler):
    """Scale the lr linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` steps.

        lr = initial_lr * (start_factor + (end_factor - start_factor)
                           * min(epoch, total_iters) / total_iters)

    PyTorch's LinearLR and defaults; ``0 < start_factor <= 1``, ``0 <= end_factor <= 1``.

    >>> warmup = LinearLR(opt, start_factor=0.01, total_iters=500)
    """

    _hyperparameters = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        name = type(self).__name__
        positive_int(total_iters, name, "total_iters")
        if not 0 < start_factor <= 1:
            raise ValueError(f"{name}: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"{name}: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = (
            start_factor, end_factor, total_iters)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        progress = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class LinearWarmup(LinearLR):
    """Ramp the lr linearly from ``start_factor * initial_lr`` up to ``initial_lr``.

    ``LinearLR(opt, start_factor, end_factor=1.0, total_iters=warmup_steps)``, named for
    what it is used for. Call ``step()`` after every optimizer step; after
    ``warmup_steps`` calls the lr stays at ``initial_lr``.

    >>> warmup = LinearWarmup(opt, warmup_steps=500, start_factor=0.01)
    """

    def __init__(self, optimizer, warmup_steps, start_factor=1.0 / 3):
        positive_int(warmup_steps, "LinearWarmup", "warmup_steps")
        super().__init__(optimizer, start_factor, 1.0, warmup_steps)

    @property
    def warmup_steps(self):
        return self.total_iters


class ConstantLR(LRScheduler):
    """``factor`` times the initial lr for the first ``total_iters`` steps, then the lr itself.

        lr = initial_lr * (factor if epoch < total_iters else 1)

    PyTorch's ConstantLR and defaults (``factor=1/3``, ``total_iters=5``), ``0 <= factor <= 1``.
    """

    _hyperparameters = ("factor", "total_iters")

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5):
        positive_int(total_iters, "ConstantLR", "total_iters")
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * (self.factor if epoch < self.total_iters else 1.0)


class PolynomialLR(LRScheduler):
    """Decay to zero over ``total_iters`` steps as a power of the steps left (PyTorch's).

        lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power
    """

    _hyperparameters = ("total_iters", "power")

    def __init__(self, optimizer, total_iters=5, power=1.0):
        positive_int(total_iters, "PolynomialLR", "total_iters")
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * (1 - min(epoch, self.total_iters) / self.total_iters) ** self.power


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every cycle; cycle i lasts ``T_0 * T_mult ** i`` epochs.

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    with ``T_cur`` the epochs since the latest restart and ``T_i`` the current cycle's
    length (SGDR, Loshchilov and Hutter, 2017; PyTorch's CosineAnnealingWarmRestarts).
    """

    _hyperparameters = ("T_0", "T_mult", "eta_min")

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0):
        positive_int(T_0, "CosineAnnealingWarmRestarts", "T_0")
        positive_int(T_mult, "CosineAnnealingWarmRestarts", "T_mult")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        t_cur, t_i = epoch, self.T_0
        while t_cur >= t_i:  # integers: no rounding at a restart, unlike a logarithm
            t_cur, t_i = t_cur - t_i, t_i * self.T_mult
        cosine = 1 + math.cos(math.pi * t_cur / t_i)
        return self.eta_min + (base_lr - self.eta_min) * cosine / 2


class SequentialLR(LRScheduler):
    """One schedule after another: ``schedulers[i]`` from epoch ``milestones[i - 1]`` on.

    Each schedule starts over at its own epoch 0 at its milestone, as in PyTorch's
    SequentialLR; a warmup then a decay is the usual use::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        scheduler = SequentialLR(opt, [warmup, decay], milestones=[5])

    Only this scheduler's ``step()`` is called. Its ``state_dict`` holds the schedules'.
    """

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), list(milestones)
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is a "
                                f"{type(scheduler).__name__}, not a step-counting schedule")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] belongs to another optimizer")
        if not schedulers or len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected one milestone fewer than schedules, got "
                             f"{len(schedulers)} schedules and {len(milestones)} milestones")
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must increase, got {milestones}")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer)

    def lrs_at(self, epoch):
        i = bisect.bisect_right(self.milestones, epoch)
        return self.schedulers[i].lrs_at(epoch - (self.milestones[i - 1] if i else 0))

    def state_dict(self):
        state = super().state_dict()
        state.update(milestones=list(self.milestones),
                     schedulers=[s.state_dict() for s in self.schedulers])
        return state

    def load_state_dict(self, state_dict):
        for scheduler, saved in zip(self.schedulers, state_dict["schedulers"]):
            scheduler.load_state_dict(saved)
        self.milestones = [int(m) for m in state_dict["milestones"]]
        super().load_state_dict(state_dict)
