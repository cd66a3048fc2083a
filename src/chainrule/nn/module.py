"""Module: the base of every layer, holding Parameters, buffers and submodules by name.

Assignment registers: ``self.W = Parameter(...)`` files W under the module's parameters,
``self.fc = Linear(...)`` files fc under its submodules, each in an ordered dict, so the
order of ``parameters()`` is the order of definition in every process (data-parallel ranks
match parameters by position). The values also live in the instance's ``__dict__``, so
reading ``self.W`` in ``forward`` costs a plain attribute lookup.
"""

from collections import namedtuple

import numpy as np

from chainrule.backend import parse_device, to_device
from chainrule.nn import hooks
from chainrule.nn.parameter import Parameter
from chainrule.nn.state import (
    array_of,
    check_keys,
    floating_dtype,
    load_value,
    numpy_copy,
    own_state,
)

LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])

_REGISTRIES = ("_parameters", "_buffers", "_modules")


class Module(hooks.HookMethods):
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

    _transient = frozenset()  # names of buffers registered with persistent=False

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

    def register_buffer(self, name, array, persistent=True):
        """Register ``array`` (or None) as state that is saved and moved but not trained.

        Buffers such as BatchNorm's ``running_mean`` appear in ``state_dict()`` after the
        parameters and follow the module in ``to(device)``; the optimizer never sees them.
        ``persistent=False`` keeps one out of ``state_dict()`` (a cache such as a table of
        positional encodings, rebuilt by ``__init__``).
        """
        self._register("_buffers", name, _check_buffer(self, name, array))
        transient = set(self._transient)
        (transient.discard if persistent else transient.add)(name)
        self.__dict__["_transient"] = frozenset(transient)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a bias)."""
        _check_type(self, "register_parameter", name, param, Parameter)
        self._register("_parameters", name, param)

    def register_module(self, name, module):
        return self.add_module(name, module)

    def add_module(self, name, module):
        """Register ``module`` (or None) under ``name``, as ``setattr`` would; a name that
        would hide a method or property of the class (``'train'``) is refused."""
        _check_type(self, "add_module", name, module, Module)
        if isinstance(name, str) and hasattr(type(self), name):
            raise KeyError(f"{type(self).__name__}.add_module: {name!r} would hide the "
                           f"attribute of that name; choose another name")
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

    # ---- calling (the hooks' registration is in hooks.HookMethods) ------------------
    def __call__(self, *args, **kwargs):
        if self._hooks is None:
            return self.forward(*args, **kwargs)
        return hooks.call(self, args, kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def zero_grad(self, set_to_none=True):
        """Clear the gradient of every parameter (``cleargrad``), before the next backward;
        ``set_to_none=False`` fills the existing gradients with zeros instead."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.cleargrad()
            else:
                param.grad.data[...] = 0

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

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter: ``requires_grad_(False)`` freezes them, so
        backward gives them no gradient (and spends no work on it); returns self."""
        for param in self.parameters():
            param.requires_grad = bool(requires_grad)
        return self

    # ---- saving, loading, moving ---------------------------------------------
    def _state_items(self):
        """``(dotted name, module, attribute)`` for every parameter, then buffer, per module."""
        for prefix, module in self.named_modules(remove_duplicate=False):
            for name, _ in own_state(module):
                yield (f"{prefix}.{name}" if prefix else name), module, name

    def get_submodule(self, target):
        """The module at dotted path ``target`` (``'encoder.layers.0'``); '' is this one."""
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(self).__name__}.get_submodule: no submodule "
                                     f"{target!r} ({type(module).__name__} has no {part!r})")
            module = child
        return module

    def get_parameter(self, target):
        """The Parameter at dotted path ``target`` (``'encoder.fc.W'``)."""
        path, _, name = target.rpartition(".")
        param = self.get_submodule(path)._parameters.get(name)
        if param is None:
            raise AttributeError(f"{type(self).__name__}.get_parameter: no parameter {target!r}")
        return param

    def state_dict(self):
        """An ordered dict from dotted names to NumPy copies of parameters and buffers.

        Each module's parameters come before its buffers, parents before children:
        ``{'0.W': ..., '0.b': ..., '1.gamma': ..., '1.beta': ..., '1.running_mean': ...}``.
        The arrays are copies (brought to the CPU), so training on does not change them.
        """
        state = {}
        for key, module, name in self._state_items():
            state[key] = numpy_copy(getattr(module, name))
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
                want, got = getattr(module, name).shape, np.shape(array_of(state[key]))
                if tuple(want) != tuple(got):
                    misshaped.append(f"{key} (expected {tuple(want)}, got {tuple(got)})")
        check_keys(f"{type(self).__name__}.load_state_dict", missing, unexpected, misshaped,
                   strict)
        for key, (module, name) in targets.items():
            if key in state:
                load_value(module, name, array_of(state[key]))
        return LoadResult(missing, unexpected)

    def to(self, device=None, dtype=None):
        """Move every parameter (and its grad) and buffer to ``device``, cast the floating
        ones to ``dtype``, or both; returns self.

        ``'cpu'`` gives NumPy arrays, ``'cuda'`` / ``'cuda:N'`` CuPy arrays (the ``[gpu]``
        extra); without a usable GPU, ``chainrule.backend.to_device`` raises RuntimeError.
        As in PyTorch, ``to(np.float64)`` (or ``to("float64")``) is a dtype, and integer
        buffers keep their dtype.
        """
        if device is not None and floating_dtype(device) is not None:
            device, dtype = None, device
        dtype = None if dtype is None else floating_dtype(dtype, required=True)
        if device is not None:
            parse_device(device)

        def move(array):
            if device is not None:
                array = to_device(array, device)
            if dtype is not None and array.dtype.kind == "f" and array.dtype != dtype:
                array = array.astype(dtype)
            return array

        for module in self.modules():
            for param in module._parameters.values():
                if param is not None:
                    param.data = move(param.data)
                    if param.grad is not None:
                        param.grad.data = move(param.grad.data)
            for name, buffer in list(module._buffers.items()):
                if buffer is not None:
                    setattr(module, name, move(buffer))
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(f"cuda:{index}")

    def double(self):
        """Floating parameters and buffers to float64 (for gradcheck); returns self."""
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    def half(self):
        return self.to(dtype=np.float16)

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


def positive_int(owner, name, value):
    """``value`` when it is a positive int, else one ValueError naming the layer and argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)
