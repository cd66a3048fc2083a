"""Containers: Sequential (modules applied in order) and ModuleList (modules held in a list)."""

from chainrule.nn.module import Module


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
