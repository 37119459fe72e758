"""The backward engine: `backward` and `grad`.

`backward` walks the recorded graph once, iteratively, from the roots to the leaves. The
gradient flowing into each node (a cotangent) is kept in a dict keyed by the node, or by the
tensor itself for a leaf, and popped when the node is processed, as in HIPS autograd and
JAX. A node is always recorded after the nodes of its inputs, so visiting nodes by
decreasing creation number (`Node.seq`, a max-heap) visits every consumer of a value before
the value itself: its cotangent is complete when it is popped, with no separate topological
sort. Leaves are finished last.

Each VJP runs on plain arrays (the fast path) or, with `create_graph=True`, on Tensors with
grad mode on, so that the backward pass is itself recorded and can be differentiated again.
Broadcasting is undone here, in one place. Grad mode is in grad_mode.py and user-defined
ops (`Function`) in function.py; both are re-exported here, so that `mg.autograd` reads
like `torch.autograd`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from . import graph
from . import tensor as _tensor
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (
    _local,
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .graph import FREED, OUTPUT_CHANGED, Node
from .primitive import TRACES
from .tensor import Tensor, _RetainGrad

__all__ = [
    "Function", "FunctionCtx", "backward", "detect_anomaly", "enable_grad", "grad",
    "inference_mode", "is_anomaly_enabled", "is_grad_enabled", "no_grad",
    "once_differentiable", "set_detect_anomaly", "set_grad_enabled",
]  # fmt: skip


def _run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> dict:
    """Propagate `root_grads` from `roots`. With `inputs=None`, gradients are accumulated
    into the `.grad` of leaves; otherwise they are returned for `inputs` only, keyed by node
    (or leaf), and `.grad` is left untouched."""
    grads: dict = {}  # node or leaf -> the cotangent so far
    heap: list = []  # (-seq, node) and (-seq, id, leaf), to be processed
    leaves: list = []  # leaves reached, in order
    wanted = reach = None
    if inputs is not None:
        wanted = {t._node or t for t in inputs}
        reach = _reaching(roots, wanted)
    for r, g in zip(roots, root_grads):  # noqa: B905 - one gradient per root, checked by callers
        _add(grads, heap, leaves, r._node or r, g)
    found: dict = {}
    handed: set = set()  # arrays already given to some .grad (see `_accumulate`)
    ctx = _local.ctx
    prev_mode = ctx.in_backward
    ctx.in_backward = not create_graph
    try:
        while heap:
            node = heappop(heap)[-1]
            g = grads.pop(node)
            if type(node) is not Node:  # a leaf with hooks whose consumers are all done
                _finish_leaf(node, g, create_graph, wanted, found, handed)
                continue
            if node.hooks:
                g = _run_hooks(node.hooks, g, node.shape, create_graph, node.name(), handed)
            if wanted is not None and node in wanted:
                found[node] = g
            if node.stamp != graph.clock:
                _check_saved(node)
            needs = node.needs
            if reach is not None:
                needs = tuple([n and p in reach for p, n in zip(node.parents, needs, strict=False)])
            in_grads = _vjp(node, g, needs, create_graph)
            if ctx.anomaly:
                _check_finite(node, in_grads)
            # (zip without `strict=`: a keyword makes the call 0.15 µs slower, per node)
            for parent, need, ga in zip(node.parents, needs, in_grads):  # noqa: B905
                if need and ga is not None:
                    if ga.shape != parent.shape:
                        ga = _sum_to(ga, parent.shape, node, create_graph)
                    if parent in grads:
                        _add(grads, heap, leaves, parent, ga)
                    else:  # first reached (inlined `_add`): schedule it
                        grads[parent] = ga
                        if type(parent) is Node:
                            heappush(heap, (-parent.seq, parent))
                        elif parent._hooks or parent._post_hooks:
                            _schedule_leaf(heap, leaves, parent)
                        else:
                            leaves.append(parent)
            if not retain_graph:
                node.release()
        for leaf in leaves:
            g = grads.pop(leaf)
            if wanted is None and not (leaf._hooks or leaf._post_hooks):
                _accumulate(leaf, g, create_graph, handed)  # (`_finish_leaf`, inlined)
            else:
                _finish_leaf(leaf, g, create_graph, wanted, found, handed)
    finally:
        ctx.in_backward = prev_mode
    return found


def _add(grads: dict, heap: list, leaves: list, key: Any, g: Any) -> None:
    """Add `g` into the cotangent of `key`; schedule `key` the first time it is reached."""
    prev = grads.get(key)
    if prev is not None:
        grads[key] = prev + g  # a new array: `g` may be shared with another input (add's)
        return
    grads[key] = g
    if type(key) is Node:
        heappush(heap, (-key.seq, key))
    else:
        _schedule_leaf(heap, leaves, key)


def _schedule_leaf(heap: list, leaves: list, leaf: Tensor) -> None:
    """A leaf with hooks is finished right after the last op that used it (its creation
    number comes before theirs), as PyTorch's AccumulateGrad: distributed training averages a
    gradient (a post-accumulate hook) while the rest of backward runs. Other leaves are
    finished at the end, where nothing can tell the difference, without the heap's cost."""
    seq = getattr(leaf, "_seq", None)
    if seq is None or not (leaf._hooks or leaf._post_hooks):
        leaves.append(leaf)
    else:
        heappush(heap, (-seq, id(leaf), leaf))  # (copies of a leaf share its number)


def _finish_leaf(
    leaf: Tensor, g: Any, create_graph: bool, wanted: Any, found: dict, handed: set
) -> None:
    """A leaf's gradient is complete: its hooks, then `.grad` (or `mg.grad`'s result), then
    its post-accumulate hooks."""
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g, leaf.shape, create_graph, "a leaf", handed)
    if wanted is not None:
        if leaf in wanted:
            found[leaf] = g
        return
    _accumulate(leaf, g, create_graph, handed)
    if leaf._post_hooks:
        for hook in list(leaf._post_hooks):
            hook(leaf)


def _vjp(node: Node, g: Any, needs: tuple, create_graph: bool) -> Any:
    """The gradients of `node`'s inputs: the fast NumPy-only rule if the op has one, else the
    plain rule on arrays; with `create_graph`, the plain rule on Tensors, recorded, so that
    the backward pass can itself be differentiated. A VJP that reads no input values gets
    the parents, whose shapes and dtypes it may read."""
    prim = node.prim
    if create_graph:
        gt = Tensor._wrap(g) if isinstance(g, np.ndarray) else g  # Tensor (or TupleGrad)
        out = None if node.out is None else Tensor._from_op(node.out, node)
        with enable_grad():
            return prim.vjp(gt, out, needs, *(node.inputs or node.parents), **node.params)
    # (No keyword arguments unless there are parameters: each would cost a dict per call.)
    args = node.data or node.parents
    if prim.fast is not None:
        if node.params:
            return prim.fast(g, node.out, needs, node.res, *args, **node.params)
        return prim.fast(g, node.out, needs, node.res, *args)
    if node.params:
        return prim.vjp(g, node.out, needs, *args, **node.params)
    return prim.vjp(g, node.out, needs, *args)


def _reaching(roots: Sequence[Tensor], wanted: set) -> set:
    """Nodes and leaves from which some of `wanted` can be reached (iterative, post-order):
    `mg.grad` propagates only through these."""
    reach: set = set()
    done: set = set()
    stack: list = [(r._node or r, False) for r in roots]
    while stack:
        key, expanded = stack.pop()
        if type(key) is not Node:
            if key in wanted:
                reach.add(key)
            continue
        if expanded:
            if key in wanted or any(
                p in reach for p, n in zip(key.parents, key.needs, strict=False) if n
            ):
                reach.add(key)
            continue
        if key in done:
            continue
        done.add(key)
        stack.append((key, True))
        stack.extend((p, False) for p, n in zip(key.parents, key.needs, strict=False) if n)
    return reach


def _run_hooks(
    hooks: list, g: Any, shape: tuple, create_graph: bool, where: str, handed: set
) -> Any:
    """Tensor hooks, in registration order, then `retain_grad` (which sees their result)."""
    for hook in list(hooks):
        if type(hook) is _RetainGrad:
            continue
        new = hook(g if create_graph else Tensor._wrap(g))
        if new is None:
            continue
        arr = new.data if isinstance(new, Tensor) else np.asarray(new)
        if arr.shape != shape:
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} on {where} returned a gradient of "
                f"shape {arr.shape}, but the tensor has shape {shape}"
            )
        g = (new if isinstance(new, Tensor) else Tensor._wrap(arr)) if create_graph else arr
    for hook in hooks:
        if type(hook) is _RetainGrad:
            t = hook.ref()
            if t is not None:
                _accumulate(t, g, create_graph, handed)
    return g


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed: set) -> None:
    """Add `g` into `t.grad` (PyTorch semantics: accumulate across backward calls)."""
    if create_graph:
        gt = g if isinstance(g, Tensor) else Tensor._wrap(g)
        if gt.dtype != t.dtype:
            gt = gt.astype(t.dtype)
        t._grad = gt if t._grad is None else t._grad + gt
        return
    if isinstance(g, Tensor):
        g = g.data
    if t._grad is None:
        # NOTE: a VJP may hand one array (or views of it) to several inputs (add does): each
        # .grad owns its memory, or an in-place clip on one would change another. NumPy
        # collapses view chains, so `base` is the buffer's owner.
        owner = id(g if g.base is None else g.base)
        dtype = t.data.dtype
        if owner in handed or (g.dtype is not dtype and g.dtype != dtype) or not g.flags.writeable:
            g = np.array(g, dtype=dtype)
            owner = id(g)
        handed.add(owner)
        t._grad = Tensor._wrap(g)
    else:
        t._grad.data = t._grad.data + g


def _sum_to(g: Any, shape: tuple, node: Node, create_graph: bool) -> Any:
    """Undo broadcasting: sum `g` down to `shape` (recorded when `g` is a Tensor)."""
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gshape[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(
            f"{node.name()} returned a gradient of shape {tuple(gshape)} that cannot be "
            f"reduced to its input's shape {tuple(shape)}"
        )
    if create_graph and not isinstance(g, Tensor):
        g = Tensor._wrap(np.asarray(g))
    return _tensor._ops.sum_to(g, shape)  # (ops bind themselves when they load: tensor.py)


def _check_saved(node: Node) -> None:
    """The in-place clock moved since `node` was recorded: its saved values must be intact."""
    if node.stamp == FREED:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (through {node.name()}), "
            "but its saved values were already freed. Specify retain_graph=True on the "
            "first backward() if you need to backward through the graph again."
        )
    if node.stamp == OUTPUT_CHANGED:
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: the output of {node.name()} (shape {node.shape}), which its "
            "backward reads, was changed after it was computed; compute it out of place "
            "(e.g. clone() first)"
        )
    for a in node.inputs or ():
        if isinstance(a, Tensor) and a._version > node.stamp:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: an input of {node.name()} of shape {a.shape} was "
                "changed after it was used; compute it out of place, or call backward() "
                "before changing it (e.g. before optimizer.step())"
            )


def _check_finite(node: Node, grads: Any) -> None:
    for g in grads:
        if g is None:
            continue
        arr = g.data if isinstance(g, Tensor) else g
        if isinstance(arr, np.ndarray) and arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            trace = TRACES.get(node)
            where = "".join(trace[-3:]) if trace else "  (creation trace not recorded)\n"
            raise RuntimeError(
                f"Function '{node.name()}' returned nan or inf values in its gradient. "
                f"The forward call that created it:\n{where}"
            )


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


def _roots(tensors: Any, grads: Any, create_graph: bool, who: str) -> tuple[list, list]:
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grads is None or isinstance(grads, (Tensor, np.ndarray)):
        grads = [grads] * len(roots) if grads is None else [grads]
    else:
        grads = list(grads)
    if len(grads) != len(roots):
        raise RuntimeError(f"{who}: got {len(grads)} gradients for {len(roots)} outputs")
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{who}: element {i} of outputs is a {type(r).__name__}, not a Tensor")
        if not r.requires_grad:
            raise RuntimeError(
                f"{who}: element {i} of tensors does not require grad and does not have a grad_fn"
            )
    gs = [_as_root_grad(r, g, create_graph, who) for r, g in zip(roots, grads, strict=True)]
    return roots, gs


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's `.grad` (see `Tensor.backward`)."""
    if grad_tensors is None and not create_graph and type(tensors) is Tensor:
        node = tensors._node  # the common case, `loss.backward()`: no argument handling
        d = tensors.data
        if node is not None and d.size == 1:
            one = np.array(1, d.dtype) if d.ndim == 0 else np.ones(d.shape, d.dtype)
            _run_backward((tensors,), (one,), bool(retain_graph), False)
            return
    roots, gs = _roots(tensors, grad_tensors, create_graph, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    _run_backward(roots, gs, retain_graph, create_graph)


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
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a Tensor that requires grad")
    roots, gs = _roots(outputs, grad_outputs, create_graph, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward(roots, gs, retain_graph, create_graph, ins)
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = found.get(t._node or t)
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
            continue
        if not isinstance(g, Tensor):
            g = Tensor._wrap(g if g.base is None and g.flags.writeable else g.copy())
        if g.dtype != t.dtype:
            g = g.astype(t.dtype)
        result.append(g)
    return tuple(result)


# The engine is what `Tensor.backward()` calls (see tensor.py).
_tensor._autograd = sys.modules[__name__]
