"""Walking a recorded graph into a flat, ordered description that drawings are made from.

`walk` visits tensors breadth-first from the roots (arguments in order), with an explicit
queue: no recursion, linear time, and a deterministic order that gives every element a
sequential id (`n0`, `n1`, ...). A value reached along several paths is recorded once.
The graph holds nodes, not intermediate tensors (those may be long freed): an intermediate
is drawn from its node (`Produced`: shape, dtype, the output array when the node kept it).
`retain_grads` keeps the gradients reaching intermediates so that a drawing after backward
can show every gradient.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..graph import Freed, Node
from ..tensor import Tensor

# Gradients that reached intermediates, kept by `retain_grads` for drawings (weakly keyed:
# they go with the graph).
_GRADS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Produced:
    """An intermediate value as drawings see it: its node's shape and dtype, the output
    array if the node kept it (else None: "data freed"), and the gradient `retain_grads`
    kept for it."""

    requires_grad = True

    def __init__(self, node: Node) -> None:
        self._node = node
        self.shape, self.dtype = node.shape, node.dtype
        self.data = node.out

    @property
    def grad(self) -> Any:
        return _GRADS.get(self._node)


class _KeepGrad:
    """The hook `retain_grads` puts on a node: it adds the gradient into `_GRADS`."""

    def __init__(self, node: Node) -> None:
        self.node = weakref.ref(node)

    def __call__(self, g: Any) -> None:
        node = self.node()
        if node is not None:
            prev = _GRADS.get(node)
            _GRADS[node] = g.detach() if prev is None else prev + g.detach()


def inputs(node: Node) -> list:
    """A node's arguments as drawings see them: tensors (leaves), `Produced` values,
    constants (what backward let go of as its `Freed` record)."""
    return [Produced(p) if type(p) is Node else p for p in node.parents]


@dataclass
class TensorItem:
    """A tensor to draw: kind is parameter, input, intermediate or output."""

    id: str
    tensor: Any
    kind: str
    name: str | None
    path: tuple
    truncated: bool = False


@dataclass
class OpItem:
    """An op to draw, with the module clusters it ran in (`path`, outermost first)."""

    id: str
    node: Any
    path: tuple


@dataclass
class ModuleItem:
    """A module that ops ran in: `key` is its cluster path (module ids, outermost first)."""

    key: tuple
    module: Any
    label: str


@dataclass
class GraphWalk:
    """What `walk` found: elements in discovery order, edges `(src, dst, broadcast)` where
    broadcast is `(in_shape, out_shape)` or None, and the modules seen."""

    items: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    modules: dict = field(default_factory=dict)  # cluster path -> ModuleItem
    module_params: dict = field(default_factory=dict)  # cluster path -> [(name, tensor)]
    truncated: bool = False


def is_tensor(value: Any) -> bool:
    """A tensor drawn as a box: a Tensor, an intermediate, or an input backward let go of."""
    return isinstance(value, (Tensor, Produced)) or (type(value) is Freed and value.was_tensor)


def _key(t: Any) -> tuple:
    return ("node", id(t._node)) if t._node is not None else ("leaf", id(t))  # Freed: leaf


class _Names:
    """Names of tensors and modules from `params`: a dict name -> tensor, pairs, or a model
    with `named_parameters()` / `named_modules()` (PyTorch's API)."""

    def __init__(self, params: Any) -> None:
        self.tensor: dict[tuple, str] = {}
        self.module: dict[int, str] = {}
        self.owner: dict[int, Any] = {}  # id(parameter) -> the module that holds it
        self.root: Any = None
        if params is None:
            return
        if hasattr(params, "named_parameters"):
            self.root = params
            modules = dict(params.named_modules())
            self.module = {id(m): name for name, m in modules.items()}
            pairs: Iterable = params.named_parameters()
        elif isinstance(params, Mapping):
            modules, pairs = {}, params.items()
        else:
            modules, pairs = {}, params
        for name, t in pairs:
            if not is_tensor(t):
                raise TypeError(f"params[{name!r}] is a {type(t).__name__}, not a Tensor")
            self.tensor.setdefault(_key(t), str(name))
            owner = modules.get(str(name).rpartition(".")[0])
            if owner is not None:
                self.owner.setdefault(id(t), owner)

    def module_label(self, module: Any) -> str:
        name = self.module.get(id(module))
        kind = type(module).__name__
        return f"{kind} {name}" if name else kind


def walk(
    roots: Any, params: Any = None, group_modules: bool = True, max_nodes: int | None = None
) -> GraphWalk:
    """Visit the graph behind `roots` (a tensor or a list of tensors) breadth-first."""
    root_list = list(roots) if isinstance(roots, (list, tuple)) else [roots]
    for i, r in enumerate(root_list):
        if not is_tensor(r):
            raise TypeError(f"root {i} is a {type(r).__name__}, not a Tensor")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive integer, got {max_nodes}")
    names = _Names(params)
    out = GraphWalk()
    seen: dict[tuple, TensorItem] = {}
    paths: dict[tuple, tuple] = {}  # scope (tuple of module ids) -> cluster path

    def add_tensor(t: Any, kind: str, path: tuple) -> TensorItem:
        item = TensorItem(f"n{len(out.items)}", t, kind, names.tensor.get(_key(t)), path)
        seen[_key(t)] = item
        out.items.append(item)
        return item

    def cluster_path(scope: tuple) -> tuple:
        if not group_modules or not scope:
            return ()
        ids = tuple(id(m) for m in scope)
        path = paths.get(ids)
        if path is None:
            start = 1 if scope[0] is names.root else 0  # the drawn model itself: no cluster
            path = ids[start:]
            for depth in range(start, len(scope)):
                sub = ids[start : depth + 1]
                if sub not in out.modules:
                    out.modules[sub] = ModuleItem(
                        sub, scope[depth], names.module_label(scope[depth])
                    )
            paths[ids] = path
        return path

    def leaf_path(t: Any, consumer: tuple, scope: tuple) -> tuple:
        # A parameter sits in its module's cluster when that module ran the consuming op;
        # without a model, a parameter sits with the op that consumed it first.
        owner = names.owner.get(id(t))
        if owner is None:
            return consumer
        for depth, m in enumerate(scope):
            if m is owner:
                return cluster_path(scope[: depth + 1])
        return ()

    for r in root_list:
        if _key(r) not in seen:
            add_tensor(r, "output", ())
    queue = deque(out.items)
    while queue:
        item = queue.popleft()
        node = item.tensor._node
        if node is None:
            continue
        args = inputs(node)
        fresh = {_key(a) for a in args if is_tensor(a) and _key(a) not in seen}
        if max_nodes is not None and len(out.items) + 1 + len(fresh) > max_nodes:
            item.truncated = out.truncated = True
            continue
        path = cluster_path(node.scope)
        item.path = path  # a tensor is drawn in the cluster of the op that produced it
        op = OpItem(f"n{len(out.items)}", node, path)
        out.items.append(op)
        out.edges.append((op.id, item.id, None))
        for a in args:
            if not is_tensor(a):
                continue
            child = seen.get(_key(a))
            if child is None:
                if a._node is not None:
                    child = add_tensor(a, "intermediate", path)
                    queue.append(child)
                elif a.requires_grad or _key(a) in names.tensor:
                    child = add_tensor(a, "parameter", leaf_path(a, path, node.scope))
                else:
                    child = add_tensor(a, "input", ())
            shapes = (tuple(a.shape), tuple(item.tensor.shape))
            out.edges.append((child.id, op.id, shapes if shapes[0] != shapes[1] else None))
    for item in out.items:
        if isinstance(item, TensorItem) and item.kind == "parameter" and item.path:
            out.module_params.setdefault(item.path, []).append(item)
    return out


def retain_grads(roots: Any) -> int:
    """Call `retain_grad()` on every intermediate tensor behind `roots`, so that after
    `backward()` a drawing with `show_grad=True` shows all gradients, not only the leaves'.

    Returns how many tensors were marked. Call it before `backward()`.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> loss = (mg.sigmoid(x * 2.0)).sum()
        >>> retain_grads(loss)
        3
    """
    marked = 0
    for item in walk(roots, group_modules=False).items:
        t = getattr(item, "tensor", None)
        if isinstance(t, Tensor) and t._node is not None and not t.retains_grad:
            t.retain_grad()
            marked += 1
        elif isinstance(t, Produced) and not any(type(h) is _KeepGrad for h in t._node.hooks or ()):
            t._node.register_prehook(_KeepGrad(t._node))
            marked += 1
    return marked
