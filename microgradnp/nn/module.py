"""`Parameter` and `Module`: the building blocks every layer and model is made of.

A `Module` registers the `Parameter`s and sub-modules assigned to its attributes, in order,
and derives from that registry everything PyTorch users expect: `named_parameters()` with
dotted names, `state_dict()` / `load_state_dict()`, `train()` / `eval()`, `zero_grad()`,
forward hooks and a readable `repr`. Containers live in `containers.py`, layers in `layers.py`.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..device import parse_to_args
from ..grad_mode import _local
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a `Module` registers as one of its learnable parameters.

    Example:
        >>> import microgradnp as mg
        >>> p = mg.nn.Parameter(mg.zeros(2))
        >>> p.requires_grad, p.is_leaf
        (True, True)
        >>> p
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        elif isinstance(data, Tensor):
            data = data.data  # shares memory, as torch.nn.Parameter does
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = namedtuple("_IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """What `register_forward_hook` returns: `handle.remove()` unregisters the hook."""

    _ids = itertools.count()
    __slots__ = ("_hooks", "id")

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        """Unregister the hook; removing twice does nothing."""
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _copy_all_or_nothing(targets: Mapping[str, Any], values: Mapping[str, np.ndarray]) -> None:
    """Copy each value into its target tensor; if one copy fails, put back the ones already
    made and re-raise, so that a failed load changes nothing."""
    done: list[tuple[Any, np.ndarray]] = []
    try:
        with no_grad():
            for key, arr in values.items():
                target = targets[key]
                old = target.data.copy()
                target.copy_(arr)
                done.append((target, old))
    except Exception:
        for target, old in reversed(done):
            np.copyto(target.data, old)
        raise


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return (
        lines[0]
        if len(lines) == 1
        else "\n".join([lines[0]] + [" " * spaces + line for line in lines[1:]])
    )


class Module:
    """Base class of all layers and models.

    Parameters, buffers and sub-modules assigned as attributes are registered in
    insertion-ordered dicts (`_parameters`, `_buffers`, `_modules`). Re-assigning a name
    moves it between them, so no stale entry is left behind.

    NOTE: registered objects are also kept in the instance `__dict__`, so that `self.weight`
    in a `forward` is a plain attribute lookup (routing it through `__getattr__`, as PyTorch
    does, costs ~0.4 us per access on the hot path). Change them by attribute assignment,
    `register_*` or `del`, not by editing `_parameters` directly.

    Example:
        >>> import microgradnp as mg
        >>> class Affine(mg.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = mg.nn.Parameter(mg.ones(3))
        ...         self.inner = mg.nn.Linear(3, 3)
        ...     def forward(self, x):
        ...         return self.inner(x) * self.scale
        >>> [name for name, _ in Affine().named_parameters()]
        ['scale', 'inner.weight', 'inner.bias']
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = {}
        d["_forward_hooks"] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module; subclasses must override it.

        Call the module (`module(x)`), not `forward`, so that hooks run.
        """
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        ctx = _local.ctx
        prev = ctx.modules
        ctx.modules = prev + (self,)  # ops recorded inside are grouped under this module
        try:
            return self.forward(*args, **kwargs) if kwargs else self.forward(*args)
        finally:
            ctx.modules = prev

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        ctx = _local.ctx
        prev = ctx.modules
        ctx.modules = prev + (self,)
        try:
            for hook in tuple(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
            out = self.forward(*args, **kwargs)
            for hook in tuple(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
            return out
        finally:
            ctx.modules = prev

    # ---- registration ---------------------------------------------------------------------
    def _check_name(self, name: Any, kind: str, store: dict) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register a {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got {name!r}')
        if (name in self.__dict__ or hasattr(type(self), name)) and name not in store:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add `param` (or None, a declared but absent parameter) under `name`."""
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter "
                f"'{name}' (mg.nn.Parameter or None required)"
            )
        self._parameters[name] = param
        self.__dict__[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. running statistics); it is
        saved in `state_dict()` unless `persistent=False`."""
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer "
                f"'{name}' (mg.Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        self.__dict__[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name` (what attribute assignment does)."""
        self._check_name(name, "module", self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module
        self.__dict__[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, (Parameter, Module)):
            if "_parameters" not in d:
                raise AttributeError(
                    "cannot assign parameters or modules before Module.__init__() call"
                )
            self._buffers.pop(name, None)
            self._non_persistent_buffers.discard(name)
            if isinstance(value, Parameter):
                self._modules.pop(name, None)
                self._parameters[name] = value
            else:
                self._parameters.pop(name, None)
                self._modules[name] = value
        elif "_parameters" in d:
            if name in self._parameters:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as parameter "
                        f"'{name}' (mg.nn.Parameter or None expected)"
                    )
                self._parameters[name] = None
            elif name in self._modules:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as child module "
                        f"'{name}' (mg.nn.Module or None expected)"
                    )
                self._modules[name] = None
            elif name in self._buffers:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as buffer "
                        f"'{name}' (mg.Tensor or None expected)"
                    )
                self._buffers[name] = value
        d[name] = value

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            self.__dict__.get(store, {}).pop(name, None)
        self.__dict__.get("_non_persistent_buffers", set()).discard(name)
        object.__delattr__(self, name)

    def __getattr__(self, name: str) -> Any:
        # Only reached when `name` is not in __dict__ (see the class NOTE).
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # ---- traversal -------------------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first, as (dotted name, module)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                sub = prefix + "." + name if prefix else name
                yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first, each once.

        Example:
            >>> from microgradnp import nn
            >>> [type(m).__name__ for m in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).modules()]
            ['Sequential', 'Linear', 'ReLU']
        """
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """`(name, module)` for each direct sub-module, each once.

        Example:
            >>> from microgradnp import nn
            >>> [name for name, _ in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).named_children()]
            ['0', '1']
        """
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """Each direct sub-module, each once (see `named_children`)."""
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, store: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, module in mods:
            for name, value in module.__dict__[store].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (mod_prefix + "." + name if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in registration order; a shared parameter once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters in `named_parameters()` order, each once."""
        if not recurse:
            return (p for _, p in self.named_parameters(recurse=False))
        return iter(self._parameter_list())

    def _parameter_list(self) -> list[Parameter]:
        # named_parameters' order without building names: pre-order depth-first walk with an
        # explicit stack (children pushed in reverse), shared modules and parameters once.
        params: list[Parameter] = []
        seen_params: set[int] = set()
        seen_modules: set[int] = set()
        stack = [self]
        while stack:
            module = stack.pop()
            if id(module) in seen_modules:
                continue
            seen_modules.add(id(module))
            for p in module._parameters.values():
                if p is not None and id(p) not in seen_params:
                    seen_params.add(id(p))
                    params.append(p)
            stack.extend(m for m in reversed(module._modules.values()) if m is not None)
        return params

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """`(dotted name, tensor)` for each buffer (state that is not a parameter, such as
        running statistics), in this module and, with `recurse`, its sub-modules.
        """
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Each buffer (see `named_buffers`)."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path `target` ("" is this module)."""
        module = self
        for item in target.split(".") if target else ():
            child = module._modules.get(item)
            if child is None:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule `{item}` (looking up {target!r})"
                )
            module = child
        return module

    # ---- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout active) on this module and all below it."""
        if not isinstance(mode, bool):
            raise TypeError(f"training mode is expected to be boolean, got {mode!r}")
        for module in self.modules():
            module.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter, e.g. for fine-tuning."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None by default, as PyTorch)."""
        if set_to_none:
            for param in self._parameter_list():
                param._grad = None  # (the slot itself: None needs no checks)
            return
        for param in self._parameter_list():
            if param.grad is not None:
                param.grad.data.fill(0)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every child (recursively), then on this module; e.g. to initialise."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast floating parameters, their gradients and floating buffers to a dtype in place
        (the tensors keep their identity), with PyTorch's overloads: `to(dtype)`,
        `to(device, dtype)`, `to(tensor)`, `to(device=..., dtype=...)`. The device must be
        the CPU ("cpu", `mg.device("cpu")`); any other raises, saying there is no GPU."""
        dt, _ = parse_to_args(*args, **kwargs)
        if dt is None:
            return self
        if dt.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are allowed, got {dt}")
        for module in self.modules():
            for t in itertools.chain(module._parameters.values(), module._buffers.values()):
                if t is not None and t.dtype.kind == "f" and t.dtype != dt:
                    t.data = t.data.astype(dt)
                    if t.grad is not None:
                        t.grad.data = t.grad.data.astype(dt)
        return self

    def double(self) -> Module:
        """Cast every floating parameter and buffer to float64, in place; returns `self`.

        Example:
            >>> from microgradnp import nn
            >>> nn.Linear(2, 2).double().weight.dtype
            dtype('float64')
        """
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast every floating parameter and buffer to float32, in place; returns `self`."""
        return self.to(np.float32)

    # ---- state -------------------------------------------------------------------------------
    def state_dict(
        self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """Every parameter and persistent buffer, by dotted name, as PyTorch orders them
        (a module's parameters, then its buffers, then its children's).

        The tensors are detached but share memory with the module's (as in PyTorch).
        """
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> _IncompatibleKeys:
        """Copy values (Tensors, ndarrays, or anything array-like) into the parameters and
        buffers of the same names.

        Everything is checked before anything is copied: with `strict=True` missing or
        unexpected keys raise, and a shape mismatch always raises, listing all problems.
        Returns `(missing_keys, unexpected_keys)`.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"expected a mapping of names to tensors, got {type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, values = [], {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.dtype.kind not in "biuf":
                errors.append(
                    f"value for {key} is a {type(value).__name__} of dtype "
                    f"{arr.dtype}, not a numeric tensor."
                )
            elif arr.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape "
                    f"{arr.shape} from checkpoint, the shape in current model is "
                    f"{target.shape}."
                )
            elif not np.can_cast(arr.dtype, target.dtype, "same_kind"):
                errors.append(
                    f"dtype mismatch for {key}: cannot copy {arr.dtype} from "
                    f"checkpoint into {target.dtype}."
                )
            elif not target.data.flags.writeable:
                errors.append(f"{key} is read-only in the current model: cannot copy into it.")
            values[key] = arr
        if strict and unexpected:
            errors.insert(
                0,
                "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".",
            )
        if strict and missing:
            errors.insert(
                0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
            )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:"
                "\n\t" + "\n\t".join(errors)
            )
        _copy_all_or_nothing(own, values)
        return _IncompatibleKeys(missing, unexpected)

    # ---- hooks -------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, args)` runs before `forward`; a returned value replaces the args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, args, output)` runs after `forward`; a returned value replaces the
        output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ---- repr ---------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (override in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"
