"""The backward engine: `backward`, `grad`, hooks, accumulation and releasing the graph.

A recorded op leaves a `Node` (graph.py) on its output tensor; the node points to
its inputs, never back to its output, so a graph is freed by reference counting as soon as
nobody holds its root. `backward` walks the graph once, iteratively, in reverse topological
order; each primitive's vector-Jacobian product (VJP) runs on raw ndarrays (fast path) or,
with `create_graph=True`, on Tensors under grad mode so that the backward pass is itself
recorded and can be differentiated again. Broadcasting is undone here, in one place.
Grad mode is in grad_mode.py and user-defined ops (`Function`) in function.py; both are
re-exported here, so that `mg.autograd` reads like `torch.autograd`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from .grad_mode import (  # noqa: F401 - re-exported: mg.autograd.no_grad etc.
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .graph import GradMode, Node, WeakInput
from .tensor import Tensor


def _resolve(args: tuple, keep: list) -> tuple:
    """A node's inputs with each `WeakInput` replaced by its tensor when that is still alive,
    else by a stand-in (see `_stand_in`); `keep` holds new stand-ins for the whole pass."""
    if len(args) == 1:  # unary ops: most of them
        return (_stand_in(args[0], keep),) if type(args[0]) is WeakInput else args
    return tuple([_stand_in(a, keep) if type(a) is WeakInput else a for a in args])


def _stand_in(a: WeakInput, keep: list) -> Tensor:
    """The tensor behind `a` if alive, else one Tensor per producing node (so that all its
    consumers, in this pass and in graphs that a create_graph pass built on it, key its
    gradient alike) holding the node's saved output, or, when the node's VJP does not read
    its output, a read-only zero-strided array of the right shape that takes no memory."""
    t = a.ref()
    node = a._node
    if t is not None and t._node is node:
        return t
    ref = getattr(node, "standin", None)
    if ref is None or (t := ref()) is None:
        data = node.out_data
        if data is None:
            data = _PLACEHOLDERS.get((a.shape, a.dtype))
            if data is None:
                data = _placeholder(a.shape, a.dtype)
        t = Tensor._from_op(data, node)
        box = getattr(node, "retained", None)
        if box is not None:
            t._retains_grad, t.grad = True, box[0]
        node.standin = weakref.ref(t)
        keep.append(t)
    return t


_PLACEHOLDERS: dict = {}  # (shape, dtype) -> read-only zero-strided zeros, for `_stand_in`


def _placeholder(shape: tuple, dtype: Any) -> np.ndarray:
    if len(_PLACEHOLDERS) > 256:
        _PLACEHOLDERS.clear()
    buf = np.zeros(1, dtype)
    buf.flags.writeable = False
    data = _PLACEHOLDERS[shape, dtype] = np.ndarray(shape, dtype, buf, 0, (0,) * len(shape))
    return data


def _toposort(roots: Sequence[Tensor], keep: list) -> list[Tensor]:
    """Tensors reachable from `roots` through recorded nodes, outputs first.

    Iterative post-order DFS (no recursion, so a million-node chain is fine), then reversed.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        node = t._node
        if node is not None and node.args is not None:
            args = node.args if node.prim.saves_inputs else _resolve(node.args, keep)
            for a, need in zip(args, node.needs, strict=False):
                if need and id(a) not in seen:
                    stack.append((a, False))
    order.reverse()
    return order


def _sum_to(g: Any, shape: tuple, prim_name: str) -> Any:
    """Undo broadcasting: sum `g` down to `shape` (recorded when `g` is a Tensor)."""
    from .ops.shape import sum_to

    gshape = g.shape
    if len(gshape) < len(shape) or any(
        s != 1 and s != gs for s, gs in zip(shape[::-1], gshape[::-1], strict=False)
    ):
        raise RuntimeError(
            f"{prim_name} backward produced a gradient of shape {tuple(gshape)} that cannot be "
            f"reduced to its input's shape {tuple(shape)}"
        )
    return sum_to(g, shape)


def _check_finite(node: Node, grads: Iterable[Any]) -> None:
    for g in grads:
        if g is None:
            continue
        arr = g.data if isinstance(g, Tensor) else np.asarray(g)
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            where = "".join(node.trace[-3:]) if node.trace else "  (creation trace not recorded)\n"
            raise RuntimeError(
                f"Function '{node.name()}' returned nan or inf values in its gradient. "
                f"The forward call that created it:\n{where}"
            )


def _run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
) -> dict[int, Any]:
    """Propagate `root_grads` from `roots`.

    With `inputs=None` gradients are accumulated into the `.grad` of leaves (and of tensors
    that called `retain_grad()`); otherwise they are returned for `inputs` only, keyed by id,
    and `.grad` is left untouched.

    Order: a node is always recorded after the nodes of its inputs, so visiting nodes by
    decreasing creation number (`Node.seq`, a max-heap) visits every consumer of a tensor
    before the tensor itself, with no separate topological sort. Leaves are finished last.
    """
    reach: set[int] | None = None
    wanted: set[int] = set()
    keep: list = []  # stand-ins made by `_resolve`
    if inputs is not None:
        wanted = {id(t) for t in inputs}
        # Prune: only tensors from which some input can be reached need gradients. (`order`
        # lives as long as the pass: weak inputs resolve the same way, and ids stay unique.)
        reach = set()
        order = _toposort(roots, keep)
        for t in reversed(order):
            node = t._node
            if id(t) in wanted or (
                node is not None
                and node.args is not None
                and any(
                    id(a) in reach
                    for a, n in zip(
                        node.args if node.prim.saves_inputs else _resolve(node.args, keep),
                        node.needs,
                        strict=False,
                    )
                    if n
                )
            ):
                reach.add(id(t))
    grads: dict[int, Any] = {}
    heap: list[tuple[int, int, Tensor]] = []
    leaves: list[Tensor] = []
    for r, g in zip(roots, root_grads, strict=True):
        k = id(r)
        if k in grads:
            grads[k] = grads[k] + g
        else:
            grads[k] = g
            if r._node is None:
                leaves.append(r)
            else:
                heappush(heap, (-r._node.seq, k, r))
    results: dict[int, Any] = {}
    handed_out: set[int] = set()  # buffers given to a .grad: a second holder gets a copy
    clock, anomaly = GradMode.clock, GradMode.anomaly
    while heap:
        _, k, t = heappop(heap)
        g = grads.pop(k)
        if t._hooks:
            g = _run_hooks(t, g, create_graph)
        if inputs is not None:
            if k in wanted:
                results[k] = g
        elif t._retains_grad:
            _accumulate(t, g, create_graph, handed_out)
            box = getattr(t._node, "retained", None)
            if box is not None:  # a stand-in for a freed tensor
                box[0] = t.grad
        node = t._node
        args = node.args
        if args is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {node.name()}), "
                "but its saved values were already freed. Specify retain_graph=True on the "
                "first backward() if you need to backward through the graph again."
            )
        prim = node.prim
        if not prim.saves_inputs:
            args = _resolve(args, keep)
        needs = node.needs
        if reach is not None:
            needs = tuple([n and id(a) in reach for a, n in zip(args, needs, strict=False)])
        if node.stamp != clock:  # something changed in place since recording
            _check_versions(node)
        if create_graph:
            gt = g if isinstance(g, Tensor) else Tensor._wrap(g)
            with set_grad_enabled(True):
                in_grads = prim.vjp(gt, t, needs, *args, **node.params)
        elif node.params:
            in_grads = prim.vjp(g, t.data, needs, *node.data, **node.params)
        else:
            in_grads = prim.vjp(g, t.data, needs, *node.data)
        if anomaly:
            _check_finite(node, in_grads)
        i = 0
        for ga in in_grads:
            if ga is not None and needs[i]:
                a = args[i]
                if ga.shape != a.data.shape:
                    if create_graph and not isinstance(ga, Tensor):
                        ga = Tensor._wrap(np.asarray(ga))
                    ga = _sum_to(ga, a.data.shape, prim.name)
                ka = id(a)
                prev = grads.get(ka)
                if prev is None:
                    grads[ka] = ga
                    if a._node is None:
                        leaves.append(a)
                    else:
                        heappush(heap, (-a._node.seq, ka, a))
                else:
                    grads[ka] = prev + ga
            i += 1
        if not retain_graph:
            _release(node, t)
    for t in leaves:
        g = grads.pop(id(t))
        if t._hooks:
            g = _run_hooks(t, g, create_graph)
        if inputs is not None:
            if id(t) in wanted:
                results[id(t)] = g
        else:
            _accumulate(t, g, create_graph, handed_out)
            if t._post_hooks:
                for hook in list(t._post_hooks):
                    hook(t)
    return results


def _run_hooks(t: Tensor, g: Any, create_graph: bool) -> Any:
    for hook in t._hooks:
        new = hook(g if create_graph else Tensor._wrap(g))
        if new is not None:
            g = new if create_graph else np.asarray(new.data if isinstance(new, Tensor) else new)
    return g


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed_out: set[int]) -> None:
    """Add `g` into `t.grad` (PyTorch semantics: accumulate across backward calls)."""
    if create_graph:
        gt = g if isinstance(g, Tensor) else Tensor._wrap(g)
        if gt.dtype != t.dtype:
            gt = gt.astype(t.dtype)
        t.grad = gt if t.grad is None else t.grad + gt
        return
    if isinstance(g, Tensor):
        g = g.data
    if g.dtype is not t.data.dtype and g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        # NOTE: a VJP may hand the same array (or a view of it) to several inputs (add does);
        # each .grad must own its memory, or an in-place clip on one would change another.
        # NumPy collapses view chains, so `base` is the buffer's owner.
        owner = id(g if g.base is None else g.base)
        if owner in handed_out or not g.flags.writeable:
            g = g.copy()
            owner = id(g)
        handed_out.add(owner)
        t.grad = Tensor._wrap(g)
    else:
        t.grad.data = t.grad.data + g


def _check_versions(node: Node) -> None:
    for a in node.args:
        if type(a) is WeakInput:
            a = a.ref()  # an input that died cannot have changed
        if isinstance(a, Tensor) and a._version > node.stamp:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: an input of {node.name()} of shape {a.shape} was "
                "changed after it was used; compute it out of place, or call backward() "
                "before changing it (e.g. before optimizer.step())"
            )


def _release(node: Node, out: Tensor) -> None:
    """Free what `node` saved for backward, keeping the graph's structure for drawing: an
    intermediate input is replaced by its node, leaves, constants and `WeakInput`s (which
    keep no data) are kept."""
    node.out_meta = (out.data.shape, out.data.dtype, out.grad if out._retains_grad else None)
    node.edges = tuple(
        [a._node if isinstance(a, Tensor) and a._node is not None else a for a in node.args]
    )
    node.args = node.data = node.out_data = None


def _as_root_grad(t: Tensor, gradient: Any, create_graph: bool, who: str) -> Any:
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, but the output "
                f"has shape {t.shape}; pass `gradient=` of that shape"
            )
        d = t.data
        g = np.array(1, d.dtype) if d.ndim == 0 else np.ones(d.shape, d.dtype)
    else:
        g = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if g.shape != t.data.shape:
            raise RuntimeError(
                f"{who}: gradient has shape {g.shape} but the output has shape {t.shape}"
            )
        if create_graph and isinstance(gradient, Tensor):
            return gradient
        g = np.array(g, dtype=t.data.dtype)  # copy: the caller keeps its array
    return Tensor._wrap(g) if create_graph else g


def _check_root(t: Tensor, i: int) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"element {i} of outputs is a {type(t).__name__}, not a Tensor")
    if not t.requires_grad:
        raise RuntimeError(
            f"element {i} of tensors does not require grad and does not have a grad_fn"
        )


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's `.grad` (see `Tensor.backward`)."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_tensors = [grad_tensors] * len(roots) if grad_tensors is None else [grad_tensors]
    for i, r in enumerate(roots):
        _check_root(r, i)
    gs = [
        _as_root_grad(r, g, create_graph, "backward")
        for r, g in zip(roots, grad_tensors, strict=True)
    ]
    if retain_graph is None:
        retain_graph = create_graph
    _run_backward(roots, gs, retain_graph, create_graph, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    Example (a Hessian-vector product of f(x) = sum(x^3), whose Hessian is diag(6x)):
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> (g,) = mg.grad((x ** 3).sum(), x, create_graph=True)
        >>> (hv,) = mg.grad(g, x, grad_outputs=mg.tensor([1.0, 1.0]))
        >>> hv.tolist()
        [6.0, 12.0]
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    for i, o in enumerate(outs):
        _check_root(o, i)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a Tensor that requires grad")
    gs = [
        _as_root_grad(o, g, create_graph, "grad") for o, g in zip(outs, grad_outputs, strict=True)
    ]
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward(outs, gs, retain_graph, create_graph, ins)
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
            continue
        if not isinstance(g, Tensor):
            g = Tensor._wrap(g if g.base is None else g.copy())
        if g.dtype != t.dtype:
            g = g.astype(t.dtype)
        result.append(g)
    return tuple(result)


# Imported last: `Function` records nodes that this engine runs (mg.autograd.Function).
from .function import Function, FunctionCtx  # noqa: E402, F401
