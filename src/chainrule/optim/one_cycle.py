"""OneCycleLR: the 1cycle policy, lr up then down (and the momentum the other way)."""

import math

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.scheduler import LRScheduler, per_group, positive_int


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
            positive_int(epochs, "OneCycleLR", "epochs")
            positive_int(steps_per_epoch, "OneCycleLR", "steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        positive_int(total_steps, "OneCycleLR", "total_steps")
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
        settings = zip(groups, per_group(max_lr, optimizer, "OneCycleLR", "max_lr"),
                       per_group(base_m, optimizer, "OneCycleLR", "base_momentum"),
                       per_group(max_m, optimizer, "OneCycleLR", "max_momentum"))
        for group, peak, low, high in settings:
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
