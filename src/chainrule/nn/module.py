"""Module: the base of every layer, holding Parameters, buffers and submodules by name.

Assignment registers: ``self.W = Parameter(...)`` files W under the module's parameters,
``self.fc = Linear(...)`` files fc under its submodules, each in an ordered dict, so the
order of ``parameters()`` is the order of definition in every process (data-parallel ranks
match parameters by position). The values also live in the instance's ``__dict__``, so
reading ``self.W`` in ``forward`` costs a plain attribute lookup.
"""

from collections import namedtuple

import numpy as np

from chainrule.backend import device_of, get_array_module, parse_device, to_device
from chainrule.core import Variable
from chainrule.nn.parameter import Parameter

LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])

_REGISTRIES = ("_parameters", "_buffers", "_modules")


class Module:
    """Base class of layers and models: subclasses assign their parts and define ``forward``.

    >>> class MLP(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = Linear(4, 8)
    ...         self.fc2 = Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(F.relu(self.fc1(x)))
    >>> [name for name, _ in MLP().named_parameters()]
    ['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b']
    """

    def __init__(self):
        attributes = self.__dict__
        for registry in _REGISTRIES:
            attributes[registry] = {}
        attributes["training"] = True

    # ---- registration -----------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Module)):
            self._register("_parameters" if isinstance(value, Parameter) else "_modules",
                           name, value)
            return
        attributes = self.__dict__
        for registry, kind in (("_parameters", "Parameter"), ("_modules", "Module")):
            if name in attributes.get(registry, ()):
                if value is not None:
                    raise TypeError(
                        f"{type(self).__name__}: cannot assign {type(value).__name__} to "
                        f"{name!r}, which holds a {kind} (assign a {kind} or None)"
                    )
                attributes[registry][name] = None
        if name in attributes.get("_buffers", ()):
            attributes["_buffers"][name] = _check_buffer(self, name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._unregister(name)
        object.__delattr__(self, name)

    def _register(self, registry, name, value):
        """File ``value`` under ``name`` in ``registry`` and as an attribute.

        A name already in that registry keeps its place (a reassigned parameter keeps its
        position in ``parameters()``); the other registries forget it.
        """
        if registry not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning {name!r}"
            )
        _check_name(self, name)
        self._unregister(name, keep=registry)
        self.__dict__[registry][name] = value
        object.__setattr__(self, name, value)

    def _unregister(self, name, keep=None):
        for registry in _REGISTRIES:
            if registry != keep:
                self.__dict__[registry].pop(name, None)

    def register_buffer(self, name, array):
        """Register ``array`` (or None) as state that is saved and moved but not trained.

        Buffers such as BatchNorm's ``running_mean`` appear in ``state_dict()`` after the
        parameters and follow the module in ``to(device)``; the optimizer never sees them.
        """
        self._register("_buffers", name, _check_buffer(self, name, array))

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a bias)."""
        _check_type(self, "register_parameter", name, param, Parameter)
        self._register("_parameters", name, param)

    def add_module(self, name, module):
        """Register ``module`` (or None) under ``name``, as ``setattr`` would."""
        _check_type(self, "add_module", name, module, Module)
        self._register("_modules", name, module)

    # ---- walking the tree ---------------------------------------------------
    def named_modules(self, prefix="", remove_duplicate=True, _seen=None):
        """``(dotted name, module)`` for this module and every descendant, parents first."""
        if remove_duplicate:
            _seen = set() if _seen is None else _seen  # identity only; the order is the walk's
            if id(self) in _seen:
                return
            _seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                child_prefix = f"{prefix}.{name}" if prefix else name
                yield from child.named_modules(child_prefix, remove_duplicate, _seen)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix="", recurse=True, remove_duplicate=True):
        """``(dotted name, value)`` from one registry of each module, each value once."""
        walk = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in walk:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """``(dotted name, Parameter)`` pairs: each module's own in definition order, then
        its children's, depth first (``'0.W'``, ``'fc1.b'``); a shared Parameter once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, then on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- training -----------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def zero_grad(self):
        """Clear the gradient of every parameter (``cleargrad``), before the next backward."""
        for param in self.parameters():
            param.cleargrad()

    def train(self, mode=True):
        """Set ``training`` on this module and every descendant; returns self.

        Layers pass the flag to ``F.dropout`` and ``F.batch_norm`` as an argument: nothing
        global changes, so two models can be in different modes at once.
        """
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self):
        """``train(False)``: Dropout passes inputs through, BatchNorm uses its running stats."""
        return self.train(False)

    # ---- saving, loading, moving ---------------------------------------------
    def _state_items(self):
        """``(dotted name, module, attribute)`` for every parameter, then buffer, per module."""
        for prefix, module in self.named_modules(remove_duplicate=False):
            for registry in ("_parameters", "_buffers"):
                for name, value in module.__dict__[registry].items():
                    if value is not None:
                        yield (f"{prefix}.{name}" if prefix else name), module, name

    def state_dict(self):
        """An ordered dict from dotted names to NumPy copies of parameters and buffers.

        Each module's parameters come before its buffers, parents before children:
        ``{'0.W': ..., '0.b': ..., '1.gamma': ..., '1.beta': ..., '1.running_mean': ...}``.
        The arrays are copies (brought to the CPU), so training on does not change them.
        """
        state = {}
        for key, module, name in self._state_items():
            state[key] = _numpy_copy(getattr(module, name))
        return state

    def load_state_dict(self, state, strict=True):
        """Copy the arrays of ``state`` into the parameters and buffers of the same names.

        Values keep the module's dtype and device. A key the module lacks (unexpected),
        a name ``state`` lacks (missing) or an array of another shape (mis-shaped) are all
        listed in one ValueError before anything is copied; ``strict=False`` tolerates
        missing and unexpected keys (not mis-shaped ones) and returns them.
        """
        targets = {key: (module, name) for key, module, name in self._state_items()}
        missing = [key for key in targets if key not in state]
        unexpected = [key for key in state if key not in targets]
        misshaped = []
        for key, (module, name) in targets.items():
            if key in state:
                want, got = getattr(module, name).shape, np.shape(_array_of(state[key]))
                if tuple(want) != tuple(got):
                    misshaped.append(f"{key} (expected {tuple(want)}, got {tuple(got)})")
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        if misshaped:
            problems.append(f"mis-shaped keys: {', '.join(misshaped)}")
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: {'; '.join(problems)}")
        for key, (module, name) in targets.items():
            if key in state:
                _load_value(module, name, _array_of(state[key]))
        return LoadResult(missing, unexpected)

    def to(self, device):
        """Move every parameter (and its grad) and buffer to ``device``; returns self.

        ``'cpu'`` gives NumPy arrays, ``'cuda'`` / ``'cuda:N'`` CuPy arrays (the ``[gpu]``
        extra); without a usable GPU, ``chainrule.backend.to_device`` raises RuntimeError.
        """
        parse_device(device)
        for module in self.modules():
            for param in module._parameters.values():
                if param is not None:
                    param.data = to_device(param.data, device)
                    if param.grad is not None:
                        param.grad.data = to_device(param.grad.data, device)
            for name, buffer in list(module._buffers.items()):
                if buffer is not None:
                    setattr(module, name, to_device(buffer, device))
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(f"cuda:{index}")

    # ---- printing -------------------------------------------------------------
    def extra_repr(self):
        """The arguments shown inside ``Name(...)``; layers override it."""
        return ""

    def __repr__(self):
        lines = self.extra_repr().splitlines()
        for name, child in self._modules.items():
            lines.append(f"({name}): " + repr(child).replace("\n", "\n  "))
        if not self._modules:
            return f"{type(self).__name__}({''.join(lines)})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _check_name(module, name):
    if not isinstance(name, str) or not name or "." in name:
        raise ValueError(
            f"{type(module).__name__}: names must be non-empty strings without '.', got {name!r}"
        )


def _check_type(module, method, name, value, kind):
    if value is not None and not isinstance(value, kind):
        raise TypeError(
            f"{type(module).__name__}.{method}: {name!r} must be a {kind.__name__} or None, "
            f"got {type(value).__name__}"
        )


def _check_buffer(module, name, value):
    if value is not None and not hasattr(value, "shape"):
        raise TypeError(
            f"{type(module).__name__}: buffer {name!r} must be an array or None, "
            f"got {type(value).__name__}"
        )
    return value


def _array_of(value):
    return value.data if isinstance(value, Variable) else value


def _numpy_copy(value):
    data = _array_of(value)
    if get_array_module(data) is np:
        return np.array(data, copy=True)
    return data.get()  # a CuPy array: the copy to the host is a new array already


def _load_value(module, name, array):
    """Give ``module.name`` a copy of ``array`` in its own dtype, on its own device."""
    current = getattr(module, name)
    target = current.data if isinstance(current, Variable) else current
    loaded = to_device(array, device_of(target)).astype(target.dtype, copy=True)
    if isinstance(current, Variable):
        current.data = loaded
    else:
        setattr(module, name, loaded)


def positive_int(owner, name, value):
    """``value`` when it is a positive int, else one ValueError naming the layer and argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)
