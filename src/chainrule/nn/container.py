"""Containers: Sequential (modules applied in order), ModuleList, ModuleDict, ParameterList."""

from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(784, 100), ReLU(), Linear(100, 10))``.

    The children are named ``'0'``, ``'1'``, ... (so the parameters ``'0.W'``, ``'0.b'``,
    ...), or by the keys of a single dict argument.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules, registered as ``'0'``, ``'1'``, ...; ``forward`` is yours to write.

    >>> self.blocks = ModuleList([Linear(8, 8) for _ in range(3)])
    """

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __setitem__(self, index, module):
        name = list(self._modules)[index]  # IndexError for an index out of range, as a list
        self.add_module(name, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """Modules held by name, in insertion order, like a dict; ``forward`` is yours to write.

    >>> heads = ModuleDict({"cls": Linear(8, 3), "box": Linear(8, 4)})
    >>> heads["cls"]
    Linear(in_features=8, out_features=3)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def clear(self):
        for key in list(self._modules):
            del self[key]

    def update(self, modules):
        """Add ``modules``: a dict, a ModuleDict or ``(name, module)`` pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module


class ParameterList(Module):
    """Parameters held in a list, registered as ``'0'``, ``'1'``, ...; arrays become Parameters.

    >>> self.scales = ParameterList([Parameter(np.ones(4)) for _ in range(3)])
    """

    def __init__(self, values=()):
        super().__init__()
        self.extend(values)

    def append(self, value):
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, index):
        params = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(params[index])
        return params[index]

    def __setitem__(self, index, value):
        name = list(self._parameters)[index]  # IndexError for an index out of range, as a list
        self.register_parameter(name, _as_parameter(value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter of shape {tuple(p.shape)}" for i, p in enumerate(self))


def _as_parameter(value):
    return value if isinstance(value, Parameter) else Parameter(value)
