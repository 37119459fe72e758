"""Containers: `Sequential` (a pipeline), `ModuleList` and `ModuleDict` (registered
collections). Their children are named "0", "1", ... or by key, as in PyTorch, so that
state-dict names match PyTorch's for the same architecture.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module


def _index(idx: Any, n: int, who: str) -> int:
    i = operator.index(idx)
    if not -n <= i < n:
        raise IndexError(f"{who}: index {i} is out of range for length {n}")
    return i + n if i < 0 else i


class _NumberedModules(Module):
    """What Sequential and ModuleList share: children named "0", "1", ... in order."""

    def __delitem__(self, idx: Any) -> None:
        keys = list(self._modules)
        name = type(self).__name__
        doomed = keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), name)]]
        for key in doomed:
            delattr(self, key)
        _renumber(self)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(_NumberedModules):
    """Modules applied one after the other: `Sequential(a, b)(x) == b(a(x))`.

    Indexable (an int gives a module, a slice a `Sequential`), iterable, with `len`.

    Example:
        >>> import microgradnp as mg
        >>> net = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.Sigmoid(), mg.nn.Linear(8, 3))
        >>> net(mg.zeros(5, 4)).shape, len(net), [k for k in net.state_dict()]
        ((5, 3), 3, ['0.weight', '0.bias', '2.weight', '2.bias'])
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        """Feed `x` through each module in order and return the last output."""
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self._modules), "Sequential")]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self._modules), "Sequential")]
        setattr(self, key, module)

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end; returns `self`."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Append each of `modules`; returns `self`."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put `module` at position `index`, renumbering those after it; returns `self`."""
        _insert(self, index, module)
        return self


def _renumber(container: Module) -> None:
    """Re-key the children as "0", "1", ... (after a deletion or insertion)."""
    modules = list(container._modules.values())
    for key in list(container._modules):
        delattr(container, key)
    for i, module in enumerate(modules):
        container.add_module(str(i), module)


def _insert(container: Module, index: int, module: Module) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{type(module).__name__} is not a Module subclass")
    n = len(container._modules)
    index = max(0, min(n, index + n if index < 0 else index))
    modules = list(container._modules.values())
    modules.insert(index, module)
    for key in list(container._modules):
        delattr(container, key)
    for i, m in enumerate(modules):
        container.add_module(str(i), m)


class ModuleList(_NumberedModules):
    """A list of modules whose parameters are registered (a plain list would hide them).

    Example:
        >>> import microgradnp as mg
        >>> layers = mg.nn.ModuleList([mg.nn.Linear(2, 2) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return list(self._modules.values())[_index(idx, len(self._modules), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index(idx, len(self._modules), "ModuleList")), module)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return type(self)(list(self) + list(other))

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns `self`."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of `modules`; returns `self`."""
        if isinstance(modules, (Module, str)) and not isinstance(modules, ModuleList):
            raise TypeError(
                f"ModuleList.extend should be called with an iterable of "
                f"modules, got {type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put `module` at position `index`, renumbering those after it."""
        _insert(self, index, module)


class ModuleDict(Module):
    """A dict of modules (string keys, insertion order) whose parameters are registered.

    Example:
        >>> import microgradnp as mg
        >>> heads = mg.nn.ModuleDict({"cls": mg.nn.Linear(4, 3), "reg": mg.nn.Linear(4, 1)})
        >>> list(heads), heads["reg"].out_features
        (['cls', 'reg'], 1)
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """`(name, module)` pairs, in insertion order."""
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def pop(self, key: str) -> Module:
        """Remove the module called `key` and return it."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self._modules):
            delattr(self, key)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from `(name, module)` pairs."""
        items = modules.items() if isinstance(modules, Mapping) else modules
        for pair in items:
            key, module = pair
            self[key] = module
