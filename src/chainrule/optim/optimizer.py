"""Optimizer: groups of parameters sharing hyperparameters, per-parameter state, checkpoints.

A subclass gives its defaults, checks a group's hyperparameters in ``check`` and
writes the update of one parameter in ``update``; this base class walks the groups
under ``no_grad()``, skips parameters without a gradient, and saves and restores
everything as plain nested dicts (string keys, NumPy arrays and Python values) that
``chainrule.save`` can store.
"""

import numpy as np

from chainrule.backend import get_array_module, to_device
from chainrule.core import Variable, enable_grad, no_grad

# keys a scheduler keeps in a parameter group beside the optimizer's hyperparameters
SCHEDULE_KEYS = ("params", "initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum")


def require(ok, what, value):
    """Raise ``ValueError("Invalid <what>: <value>")`` unless ``ok`` (PyTorch's wording)."""
    if not ok:
        raise ValueError(f"Invalid {what}: {value}")


class Optimizer:
    """Base of every optimizer.

    ``params`` is an iterable of Variables (``model.parameters()``) or of dicts
    ``{"params": [...], "lr": 0.1, ...}``, one per group, as in PyTorch; a
    hyperparameter that a group leaves out takes its value from ``defaults``, and a
    parameter may belong to one group only. ``state[p]`` holds the arrays of
    parameter ``p`` (keyed by the Variable itself, as torch keys by tensor); a
    checkpoint names parameters by their position counting through the groups in
    order, so it loads into a freshly built model.

    >>> opt = SGD([{"params": model.body.parameters()},
    ...            {"params": model.head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)
    """

    def __init__(self, params, defaults):
        if isinstance(params, (Variable, dict)):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Variables or of dicts, "
                f"got a single {type(params).__name__} (wrap it in a list)"
            )
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Append a group ``{"params": [...], hyperparameter: value, ...}``, checked.

        As ``torch.optim.Optimizer.add_param_group``: hyperparameters the group leaves
        out come from ``defaults``; a parameter already in a group is refused. Unlike
        torch, a key that is no hyperparameter (a typo such as ``"lrr"``) is refused too.
        """
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key")
        unknown = [k for k in group if k not in self.defaults and k not in SCHEDULE_KEYS]
        if unknown:
            raise ValueError(
                f"{name}: unknown hyperparameter(s) {unknown} in a parameter group; "
                f"{name} takes {sorted(self.defaults)}"
            )
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: a group's params must be in an ordered collection (a list), not a "
                "set, whose order changes from run to run"
            )
        params = [params] if isinstance(params, Variable) else list(params)
        for p in params:
            if not isinstance(p, Variable):
                raise TypeError(f"{name}: can only optimize Variables, got {type(p).__name__}")
            if p.creator is not None:  # torch: "can't optimize a non-leaf Tensor"
                raise ValueError(
                    f"{name}: can only optimize leaf Variables, got one computed by "
                    f"{type(p.creator).__name__} (optimize the Variables it was computed from)"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = {id(p) for p in params}
        if len(ids) != len(params) or ids & seen:
            raise ValueError(f"{name}: a parameter appears more than once in the parameter groups")
        full = {**self.defaults, **group, "params": params}
        self.check(full)
        self.param_groups.append(full)

    def check(self, group):
        """Refuse bad hyperparameters of ``group`` with ``require`` (subclasses extend)."""
        require(group["lr"] >= 0, "learning rate", group["lr"])
        if "weight_decay" in group:
            require(group["weight_decay"] >= 0, "weight_decay value", group["weight_decay"])

    def update(self, param, grad, state, group):
        """Update the array ``param`` in place from the array ``grad`` and the dict ``state``."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient: ``grad = None`` (torch's default), or zeros.

        With ``set_to_none=False`` each ``grad`` Variable stays and holds a new array of
        zeros (not zeroed in place: the engine may hand one array to several Variables).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data = get_array_module(p.grad.data).zeros_like(p.grad.data)

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` when given.

        ``closure`` re-evaluates the model and returns the loss (it runs with grad
        recording on); the update itself records nothing.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        state = self.state.get(p)
                        if state is None:
                            state = self.state[p] = {}
                        # the plain arrays, the write counted once after: through the
                        # tracked views (x.data) each NumPy call pays ~10 µs of dispatch
                        # (core/tracked.py), 0.5 ms of lstm_step's SGD with clipping
                        self.update(p._data, p.grad._data, state, group)  # in place
                        p._count_write()
        return loss

    def _params(self):
        """Every parameter, counting through the groups in order (a checkpoint's numbering)."""
        return [p for group in self.param_groups for p in group["params"]]

    # ---- checkpoints ------------------------------------------------------
    def state_dict(self):
        """A snapshot ``{"state": {"0": {...}, ...}, "param_groups": [{..., "params": [0, 1]}]}``.

        Keys are strings and leaves are NumPy arrays (copies, moved off the GPU) or
        Python numbers, strings and lists, so ``chainrule.save`` can store it.
        """
        state = {
            str(i): {k: _export(v) for k, v in self.state[p].items()}
            for i, p in enumerate(self._params()) if p in self.state
        }
        groups, start = [], 0
        for group in self.param_groups:
            saved = {k: _export(v) for k, v in group.items() if k != "params"}
            saved["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state from ``state_dict()``: training resumes exactly.

        State arrays are copied to each parameter's device and dtype. The groups must
        match the saved ones in number and sizes, and the checkpoint must carry this
        optimizer's hyperparameters; otherwise one ``ValueError`` says what differs.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                "(an optimizer's state_dict())"
            )
        groups = state_dict["param_groups"]
        saved_sizes = [len(g["params"]) for g in groups]
        sizes = [len(g["params"]) for g in self.param_groups]
        if saved_sizes != sizes:
            raise ValueError(
                f"{name}.load_state_dict: the checkpoint has parameter groups of sizes "
                f"{saved_sizes}, this optimizer {sizes}"
            )
        missing = sorted({k for k in self.defaults for g in groups if k not in g})
        if missing:
            raise ValueError(
                f"{name}.load_state_dict: the checkpoint's parameter groups lack {missing}; "
                f"is it the state of another optimizer than {name}?"
            )
        params = self._params()
        state = {}
        for key, saved in state_dict["state"].items():
            index = int(key)
            if not 0 <= index < len(params):
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {key}, but there are "
                    f"only {len(params)} parameters"
                )
            p = params[index]
            state[p] = {k: _import(v, p.data, name, key, k) for k, v in saved.items()}
        for group, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = _plain(v, like=group.get(k))
        self.state = state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i} ({len(group['params'])} params): {settings}")
        return "\n".join(lines + [")"])


def _export(value):
    """A checkpoint leaf: arrays become NumPy copies, tuples lists, numbers stay."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):  # a NumPy number given as a hyperparameter
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_export(v) for v in value]
    return np.array(to_device(value, "cpu"))


def _plain(value, like=None):
    """A loaded hyperparameter as a Python value (a 0-d float64 array would upcast float32)."""
    if hasattr(value, "tolist"):  # NumPy scalars and arrays, as a loader may return numbers
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return tuple(items) if isinstance(like, tuple) else items
    return value


def _import(value, param, name, key, field):
    """A loaded state entry: ``step`` an int, arrays copied to ``param``'s device and dtype."""
    if field == "step":
        return int(value)
    if not hasattr(value, "shape"):
        return _plain(value)
    if value.shape != param.shape:
        raise ValueError(
            f"{name}.load_state_dict: state['{key}']['{field}'] has shape {value.shape}, "
            f"but parameter {key} has shape {param.shape}"
        )
    xp = get_array_module(param)
    return xp.array(to_device(value, "cpu") if xp is np else value, dtype=param.dtype)
