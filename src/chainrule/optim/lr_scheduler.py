"""Learning-rate schedules, PyTorch's names, arguments and values.

StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR (and LinearWarmup, its
warmup), ConstantLR, LambdaLR and OneCycleLR own a counter ``last_epoch`` (0 after
construction) and set every parameter group's ``lr`` from the group's initial lr by a
closed formula, so a schedule resumes exactly from its ``state_dict``. ReduceLROnPlateau
(``plateau.py``) instead watches a metric. Call ``step()`` once per epoch (or once per
optimizer step for warmups and OneCycleLR), after ``optimizer.step()``::

    scheduler = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        scheduler.step()

Unlike torch's chained forms, a closed formula ignores an lr set by hand between steps.
"""

import bisect
import math

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.plateau import ReduceLROnPlateau

__all__ = ["ConstantLR", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR",
           "LinearLR", "LinearWarmup", "MultiStepLR", "OneCycleLR", "ReduceLROnPlateau", "StepLR"]


def _positive_int(value, owner, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")


def _per_group(value, optimizer, owner, what):
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
            _positive_int(m, "MultiStepLR", "each milestone")
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
            lr_lambda = _per_group(lr_lambda, optimizer, "LambdaLR", "lr_lambda")
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
        _positive_int(T_max, "CosineAnnealingLR", "T_max")
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
        _positive_int(total_iters, name, "total_iters")
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
        _positive_int(warmup_steps, "LinearWarmup", "warmup_steps")
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
        _positive_int(total_iters, "ConstantLR", "total_iters")
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * (self.factor if epoch < self.total_iters else 1.0)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin, 2018), PyTorch's OneCycleLR and defaults.

    Call ``step()`` after every batch, ``total_steps`` times in all (or
    ``epochs * steps_per_epoch``). The lr climbs from ``max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of the steps, then anneals to
    ``max_lr / div_factor / final_div_factor`` at step ``total_steps - 1``; with
    ``three_phase`` it first comes back down to the start, then anneals. Each phase
    runs from ``a`` to ``b`` as ``pct`` goes from 0 to 1::

        cos:     b + (a - b) * (1 + cos(pi * pct)) / 2        (default)
        linear:  a + (b - a) * pct

    With ``cycle_momentum`` the momentum (SGD's ``momentum``, or beta1 of Adam's
    ``betas``) moves the other way, between ``max_momentum`` and ``base_momentum``.
    ``max_lr``, ``base_momentum`` and ``max_momentum`` take one value per group as a
    list. Each group keeps ``initial_lr``, ``max_lr``, ``min_lr`` (and the momenta),
    as in torch, so an optimizer checkpoint carries them.

    >>> scheduler = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    """

    _hyperparameters = ("total_steps", "pct_start", "anneal_strategy", "cycle_momentum",
                        "three_phase")

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            _positive_int(epochs, "OneCycleLR", "epochs")
            _positive_int(steps_per_epoch, "OneCycleLR", "steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        _positive_int(total_steps, "OneCycleLR", "total_steps")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        self.total_steps, self.pct_start, self.three_phase = total_steps, pct_start, three_phase
        self.anneal_strategy, self.cycle_momentum = anneal_strategy, cycle_momentum
        if isinstance(optimizer, Optimizer):
            self._set_up_groups(optimizer, max_lr, div_factor, final_div_factor,
                                base_momentum, max_momentum)
        super().__init__(optimizer)

    def _set_up_groups(self, optimizer, max_lr, div_factor, final_div_factor, base_m, max_m):
        groups = optimizer.param_groups
        if self.cycle_momentum and not {"momentum", "betas"} & set(optimizer.defaults):
            raise ValueError(f"OneCycleLR: cycle_momentum needs an optimizer with momentum or "
                             f"betas, and {type(optimizer).__name__} has neither "
                             "(pass cycle_momentum=False)")
        per_group = zip(groups, _per_group(max_lr, optimizer, "OneCycleLR", "max_lr"),
                        _per_group(base_m, optimizer, "OneCycleLR", "base_momentum"),
                        _per_group(max_m, optimizer, "OneCycleLR", "max_momentum"))
        for group, peak, low, high in per_group:
            group["initial_lr"] = peak / div_factor  # replaced, as torch does
            group["max_lr"], group["min_lr"] = peak, peak / div_factor / final_div_factor
            if self.cycle_momentum:
                group["base_momentum"], group["max_momentum"] = low, high

    def _phase(self, step):
        """``(phase, start key, end key, pct)``: where ``step`` lies, as torch's phases."""
        total, pct_start = self.total_steps, self.pct_start
        if step > total:
            raise ValueError(f"OneCycleLR: stepped {step} times, but total_steps is {total}")
        if self.three_phase:
            phases = [(pct_start * total - 1, "initial_lr", "max_lr"),
                      (2 * pct_start * total - 2, "max_lr", "initial_lr"),
                      (total - 1, "initial_lr", "min_lr")]
        else:
            phases = [(pct_start * total - 1, "initial_lr", "max_lr"),
                      (total - 1, "max_lr", "min_lr")]
        start = 0
        for i, (end, low, high) in enumerate(phases):
            if step <= end or i == len(phases) - 1:
                return i, low, high, (step - start) / (end - start) if end != start else 0.0
            start = end

    def _anneal(self, a, b, pct):
        if self.anneal_strategy == "linear":
            return a + (b - a) * pct
        return b + (a - b) * (1 + math.cos(math.pi * pct)) / 2

    def lrs_at(self, epoch):
        _, start, end, pct = self._phase(epoch)
        groups = self.optimizer.param_groups
        return [self._anneal(g[start], g[end], pct) for g in groups]

    def _apply(self):
        super()._apply()
        if not self.cycle_momentum:
            return
        phase, *_, pct = self._phase(self.last_epoch)
        # momentum: max -> base while the lr climbs, base -> max while it falls, then stays
        ends = [("max_momentum", "base_momentum"), ("base_momentum", "max_momentum"),
                ("max_momentum", "max_momentum")][phase]
        for group in self.optimizer.param_groups:
            momentum = self._anneal(group[ends[0]], group[ends[1]], pct)
            if "betas" in group:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum
