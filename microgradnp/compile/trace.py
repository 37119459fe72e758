"""Recording one eager call: every primitive, VJP, gradient update and replayable call.

While a function is traced, a few entry points are swapped for recording versions (class
and module attributes, restored afterwards, so the eager path carries no hook but one
check): the ops' `primitive.observer`, the backward engine's `_vjp`, `_sum_to`, `_add`,
`_accumulate`, `Module.__call__`, in-place ops, `Optimizer.step`/`zero_grad` and `Module.zero_grad`
(recorded whole), the `Tensor` methods that read values into Python (`item`, `bool`,
...), which end the capture, and NumPy's position-finding functions (`argmax`, `argsort`,
...), whose results must not become constants of a plan. Values are told apart by the
identity of their arrays: each array the trace meets is a `Slot`; every traced array stays
referenced until the plan is built, so identities are never reused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import autograd, ops, primitive, random
from ..grad_mode import context
from ..primitive import Primitive
from ..tensor import Tensor
from . import hooks


class GraphBreak(RuntimeError):
    """Raised (with `fullgraph=True`) when a function cannot be captured; says why."""


@dataclass(eq=False)
class Slot:
    """A value of the plan: an input, a parameter (read live), an op's result, a `.grad`."""

    kind: str  # "input", "external", "op", "grad", "call"
    value: Any  # the array (or object) it held during the trace
    index: int = 0
    tensor: Any = None  # input/external: the Tensor it is read from; grad: the leaf
    path: tuple = ()  # input: where in the arguments
    root: Slot | None = None  # the slot whose memory this one views (None: itself)
    buffer: Any = None  # set by the plan: preallocated array, when a kernel writes it
    deps: list = field(default_factory=list)  # slots whose memory this value holds on to


@dataclass(eq=False)
class Const:
    value: Any


@dataclass(eq=False)
class Event:
    op: str  # "fwd", "vjp", "sum_to", "add", "acc", "call", "grad_none"
    ins: list = field(default_factory=list)  # Slots and Consts read
    outs: list = field(default_factory=list)  # Slots written (None: no output)
    info: dict = field(default_factory=dict)


class _Stand:
    """What a VJP that reads no input values gets for an input: its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple, dtype: Any) -> None:
        self.shape, self.dtype = shape, dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class Tracer:
    """Records one call of the compiled function (see the module docstring)."""

    def __init__(self, fullgraph: bool) -> None:
        self.fullgraph = fullgraph
        self.thread = threading.get_ident()
        self.events: list[Event] = []
        self.slots: dict[int, Slot] = {}  # id(array) -> slot
        self.owners: dict[int, Slot] = {}  # id(memory owner) -> root slot
        self.all_slots: list[Slot] = []
        self.keep: list = []
        self.nodes: dict[int, tuple] = {}  # id(node) -> (out slot, res slot)
        self.externals: dict[int, Slot] = {}  # id(tensor) -> slot
        self.created: set[int] = set()  # ids of tensors and arrays made during the trace
        self.modules: dict[int, tuple] = {}  # id -> (module, training)
        self.grad_entry: dict[int, tuple] = {}  # id(tensor) -> (tensor, grad is None)
        self.touched: set[int] = set()
        self.broken: str | None = None
        self.depth = 0
        self.versions: dict[int, tuple] = {}  # id(tensor) -> (tensor, version first seen)
        self.handed: set[int] = set()  # tensors given to replayable calls

    # ---- values -----------------------------------------------------------------------
    def brk(self, why: str) -> None:
        if self.broken is None:
            self.broken = why
            if self.fullgraph:
                raise GraphBreak(f"mg.compile(fullgraph=True): cannot capture: {why}")

    def active(self) -> bool:
        return (
            self.broken is None
            and self.depth == 0
            and threading.get_ident() == self.thread
            and not context().in_backward
        )

    def new_slot(self, kind: str, value: Any, **kw: Any) -> Slot:
        s = Slot(kind, value, index=len(self.all_slots), **kw)
        self.all_slots.append(s)
        self.keep.append(value)
        if isinstance(value, np.ndarray):
            self.slots[id(value)] = s
            owner = value if value.base is None else value.base
            root = self.owners.get(id(owner))
            if root is None:
                self.owners[id(owner)] = s
                self.keep.append(owner)
            else:
                s.root = root
        return s

    def owner_root(self, a: np.ndarray) -> Slot | None:
        """The slot whose memory `a` is (or views), if the trace has met that memory."""
        return self.owners.get(id(a if a.base is None else a.base))

    def foreign_view(self, a: np.ndarray) -> bool:
        """Whether `a` views memory whose contents the plan keeps elsewhere at replay (an
        argument's, an op's): a constant made of it would be stale. (Views of parameters'
        and other outside tensors' arrays stay valid: the plan checks those arrays.)"""
        root = self.owner_root(a)
        return root is not None and root.kind != "external"

    def add_input(self, t: Tensor, path: tuple) -> None:
        if id(t) not in self.externals:
            self.externals[id(t)] = self.new_slot("input", t.data, tensor=t, path=path)
            self.versions[id(t)] = (t, t._version)

    def add_array_input(self, a: np.ndarray, path: tuple) -> None:
        """An ndarray argument (token ids, class targets): read from the arguments at replay."""
        if id(a) not in self.slots:
            self.externals[id(a)] = self.new_slot("input", a, path=path)

    def check_versions(self) -> None:
        """An input or parameter changed in place by something not recorded (an in-place
        op under no_grad, a custom optimizer) would be missing from the plan."""
        for key, (t, v) in self.versions.items():
            if t._version != v and key not in self.handed:
                self.brk(
                    f"a tensor of shape {t.shape} read by the function was changed in place "
                    "by code the trace does not record (an in-place op under no_grad, or an "
                    "optimizer whose step() is not the base class's)"
                )
                return

    def check_result(self, v: Any) -> None:
        """A returned tensor or array the plan would not recompute (made outside the ops: a
        comparison, argmax) would be returned as the first call's value."""
        if isinstance(v, Tensor):
            if id(v.data) not in self.slots and (
                id(v) in self.created or id(v.data) in self.created
            ):
                self.brk(
                    "the function returns a tensor computed outside the ops (a comparison, "
                    "argmax, ...); return the tensors it is computed from and compute it after "
                    "the call"
                )
        elif isinstance(v, np.ndarray):
            if id(v) not in self.slots and (id(v) in self.created or self.foreign_view(v)):
                self.brk("the function returns an array computed outside the ops")
        elif isinstance(v, (list, tuple)):
            for a in v:
                self.check_result(a)
        elif isinstance(v, dict):
            for a in v.values():
                self.check_result(a)

    def ref(self, v: Any) -> Any:
        """The slot (or constant) for a primitive's argument."""
        if isinstance(v, Tensor):
            s = self.slots.get(id(v.data))
            if s is not None:
                return s
            if id(v) in self.created or id(v.data) in self.created:
                self.brk(
                    "a tensor was computed outside the ops (a comparison, an argmax, or "
                    "arithmetic on .data) and then used; build it from ops or pass it in"
                )
            s = self.externals.get(id(v))
            if s is None:
                s = self.externals[id(v)] = self.new_slot("external", v.data, tensor=v)
                self.versions[id(v)] = (v, v._version)
            return s
        if isinstance(v, np.ndarray):
            s = self.slots.get(id(v))
            if s is not None:
                return s
            if id(v) in self.created or self.foreign_view(v):
                self.brk("an array computed outside the ops was passed to an op")
            return Const(v)
        if isinstance(v, (list, tuple)) and any(isinstance(a, Tensor) for a in v):
            self.brk("an op was given a list of tensors")
        return Const(v)

    def result(self, v: Any) -> Slot | None:
        """The slot of an array an op produced (an existing one when it is returned as is)."""
        if v is None:
            return None
        s = self.slots.get(id(v)) if isinstance(v, np.ndarray) else None
        return s if s is not None else self.new_slot("op", v)

    # ---- grad state ---------------------------------------------------------------------
    def touch(self, t: Tensor, reads: bool) -> None:
        """Note a first use of `t.grad`: guard its entry state if the use reads it."""
        if id(t) in self.touched:
            return
        self.touched.add(id(t))
        if reads:
            self.grad_entry[id(t)] = (t, t._grad is None)
            self.keep.append(t)

    # ---- replayable calls ----------------------------------------------------------------
    def call(self, fn: Any, kind: str, args: tuple, kwargs: dict) -> Any:
        if not self.active():
            return fn(*args, **kwargs)
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        tensors = _tensors_in(args, kwargs)
        for t in tensors:
            s = self.slots.get(id(t.data))
            if s is not None and s.kind in ("op", "call"):
                self.brk(f"a computed tensor was passed to {fn.__qualname__}")
                return fn(*args, **kwargs)
        ins = []  # arrays from the data among the arguments: read from their slots at replay
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, np.ndarray):
                s = self.slots.get(id(a))
                if s is not None:
                    ins.append(s)
                elif id(a) in self.created or self.foreign_view(a):
                    self.brk(f"{fn.__qualname__} was given an array computed outside the ops")
                    return fn(*args, **kwargs)
        resets = kind == "zero_grad" and kwargs.get("set_to_none", args[1:2] != (False,))
        for t in tensors:
            self.touch(t, reads=not resets)
        had_grad = {id(t) for t in tensors if t._grad is not None}
        self.handed.update(id(t) for t in tensors)
        self.depth += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        ev = Event("call", ins, info={"fn": fn, "args": args, "kwargs": kwargs, "kind": kind,
                                      "had_grad": had_grad})  # fmt: skip
        if isinstance(out, np.ndarray):
            ev.outs = [self.new_slot("call", out)]
        elif isinstance(out, Tensor):
            ev.info["tensor_out"] = True
            ev.outs = [self.new_slot("call", out.data)]
        elif out is not None:
            ev.info["result"] = out
        self.events.append(ev)
        return out


def _arrays(v: Any) -> list[np.ndarray]:
    if isinstance(v, np.ndarray):
        return [v]
    if isinstance(v, (tuple, list)):
        return [a for x in v for a in _arrays(x)]
    return []


def _tensors_in(args: tuple, kwargs: dict) -> list[Tensor]:
    """Tensors an optimizer, module or parameter list among `args` reaches (their grads)."""
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer

    found: list[Tensor] = []
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tensor):
            found.append(a)
        elif isinstance(a, Optimizer):
            found += [p for g in a.param_groups for p in g["params"]]
        elif isinstance(a, Module):
            found += list(a.parameters())
        elif isinstance(a, (list, tuple)):
            found += [t for t in a if isinstance(t, Tensor)]
    return found


# ---- the recording versions of the engine's entry points --------------------------------
_orig: dict[str, Any] = {}


def _live(tr: Tracer, who: str, v: Any) -> Any:
    """A primitive's parameter with its arrays from the data (indices: an embedding lookup,
    `weight[idx]`, `gather`) replaced by their slots, which a replay reads live; None when
    it holds none. Arrays the plan could not read at replay end the capture."""
    if isinstance(v, Tensor):
        tr.brk(f"{who} was given a tensor as a parameter")
    elif isinstance(v, np.ndarray):
        s = tr.slots.get(id(v))
        if s is not None:
            return s
        if id(v) in tr.created or tr.foreign_view(v):
            tr.brk(
                f"{who} was given, as a parameter, an array computed from the data outside "
                "the ops (a view or a NumPy function of a tensor's array, such as the "
                "positions max(dim), sort or topk find); pass the tensor itself, or build "
                "the array from ops"
            )
    elif isinstance(v, (tuple, list)):
        parts = [_live(tr, who, a) for a in v]
        if any(p is not None for p in parts):
            return type(v)(a if p is None else p for a, p in zip(v, parts, strict=True))
    return None


def _live_params(tr: Tracer, who: str, params: dict) -> dict:
    """{name: parameter with slots} for the parameters that hold arrays from the data."""
    live = {}
    for k, v in params.items():
        r = _live(tr, who, v)
        if r is not None:
            live[k] = r
    return live


def _prim_call(prim: Primitive, args: tuple, params: dict) -> Any:
    tr = hooks.tracer
    if tr is None or not tr.active():
        return prim.eager(*args, **params)
    refs = [tr.ref(a) for a in args]
    live = _live_params(tr, prim.name, params)
    out = prim.eager(*args, **params)
    if tr.broken:
        return out
    if not isinstance(out, Tensor):
        tr.brk(f"{prim.name} returned a {type(out).__name__}")
        return out
    node = out._node
    s = tr.slots.get(id(out.data))  # an op may hand back an input's array as is
    if s is None:
        s = tr.new_slot("op", out.data)
    rs = None
    if node is not None:
        rs = tr.new_slot("op", node.res) if node.res is not None else None
        if rs is not None:  # arrays kept in the residuals keep their memory alive
            rs.deps = [r for r in map(tr.owner_root, _arrays(node.res)) if r is not None]
        tr.nodes[id(node)] = (s, rs)
        tr.keep.append(node)
    tr.events.append(Event("fwd", refs, [s, rs], {"prim": prim, "params": params, "live": live}))
    return out


def _vjp(node: Any, g: Any, needs: tuple, create_graph: bool) -> Any:
    tr = hooks.tracer
    if tr is None or tr.broken or threading.get_ident() != tr.thread:
        return _orig["_vjp"](node, g, needs, create_graph)
    if create_graph:
        tr.brk("backward with create_graph=True")
    entry = tr.nodes.get(id(node))
    if entry is None:
        tr.brk("backward reached a graph recorded before the compiled function was called")
    if tr.broken:
        return _orig["_vjp"](node, g, needs, create_graph)
    prim = node.prim
    if node.data is not None:
        args = [tr.ref(a) for a in node.data]
    else:
        args = [Const(_Stand(p.shape, p.dtype) if hasattr(p, "dtype") else p) for p in node.parents]
    gref = tr.ref(g)
    live = _live_params(tr, prim.name, node.params)
    outref = entry[0] if node.out is not None else None
    res = entry[1] if node.res is not None else None
    grads = _orig["_vjp"](node, g, needs, create_graph)
    outs = [tr.result(r) for r in grads]
    tr.events.append(
        Event(
            "vjp",
            [gref, outref, res, *args],
            outs,
            {
                "prim": prim,
                "needs": needs,
                "params": node.params,
                "nargs": len(args),
                "live": live,
            },  # fmt: skip
        )
    )
    return grads


def _sum_to(g: Any, shape: tuple, node: Any, create_graph: bool) -> Any:
    out = _orig["_sum_to"](g, shape, node, create_graph)
    tr = hooks.tracer
    if tr is not None and tr.broken is None and threading.get_ident() == tr.thread:
        tr.events.append(Event("sum_to", [tr.ref(g)], [tr.result(out)], {"shape": tuple(shape)}))
    return out


def _add(grads: dict, heap: list, leaves: list, key: Any, g: Any) -> None:
    prev = grads.get(key)
    _orig["_add"](grads, heap, leaves, key, g)
    tr = hooks.tracer
    if prev is not None and tr is not None and tr.broken is None:
        if threading.get_ident() == tr.thread:
            new = grads[key]
            tr.events.append(Event("add", [tr.ref(prev), tr.ref(g)], [tr.result(new)]))


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed: set) -> None:
    tr = hooks.tracer
    if tr is None or tr.broken or threading.get_ident() != tr.thread:
        return _orig["_accumulate"](t, g, create_graph, handed)
    if create_graph:
        tr.brk("backward with create_graph=True")
    if t._post_hooks:
        tr.brk("a post-accumulate-grad hook")
    before = t._grad
    tr.touch(t, reads=True)
    gref = tr.ref(g)
    _orig["_accumulate"](t, g, create_graph, handed)
    if tr.broken:
        return None
    after = t._grad.data  # type: ignore[union-attr]
    tr.slots.pop(id(after), None)  # the .grad array is a slot of its own from here on
    gs = tr.new_slot("grad", after, tensor=t)
    tr.events.append(Event("acc", [gref], [gs], {"tensor": t, "assign": before is None}))
    return None


def _run_hooks(*args: Any) -> Any:
    tr = hooks.tracer
    if tr is not None and threading.get_ident() == tr.thread:
        tr.brk("a tensor hook or retain_grad()")
    return _orig["_run_hooks"](*args)


def _run_backward(roots: Any, root_grads: Any, retain_graph: bool, create_graph: bool,
                  inputs: Any = None) -> dict:  # fmt: skip
    tr = hooks.tracer
    if tr is not None and threading.get_ident() == tr.thread and tr.depth == 0:
        if inputs is not None:
            tr.brk("mg.grad() (only .backward() into .grad is captured)")
        for g in root_grads:
            if isinstance(g, np.ndarray) and id(g) in tr.slots:
                tr.brk("backward(gradient=...) with a computed gradient")
    return _orig["_run_backward"](roots, root_grads, retain_graph, create_graph, inputs)


def _as_root_grad(t: Tensor, gradient: Any, create_graph: bool, who: str) -> Any:
    tr = hooks.tracer
    if tr is not None and gradient is not None and threading.get_ident() == tr.thread:
        arr = gradient.data if isinstance(gradient, Tensor) else gradient
        if isinstance(arr, np.ndarray) and (id(arr) in tr.slots or id(arr) in tr.created):
            tr.brk("backward(gradient=...) with a computed gradient")
    return _orig["_as_root_grad"](t, gradient, create_graph, who)


def _inplace(t: Tensor, op: str, other: Any, **kw: Any) -> Tensor:
    tr = hooks.tracer
    if tr is None or not tr.active():
        return _orig["inplace"](t, op, other, **kw)
    recorded = context().enabled and (
        t._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
    )
    target = tr.slots.get(id(t.data))
    if target is None and id(t) not in tr.created and id(t.data) not in tr.created:
        target = tr.ref(t)  # a tensor from outside (e.g. running statistics): read live
    if recorded or target is None or target.kind not in ("input", "external"):
        tr.brk(f"an in-place {op}_ on a tensor computed inside the function")
        return _orig["inplace"](t, op, other, **kw)
    ref = tr.ref(other)
    if any(isinstance(v, (Tensor, np.ndarray)) for v in kw.values()):
        tr.brk(f"an in-place {op}_ with tensor options")
    out = _orig["inplace"](t, op, other, **kw)
    tr.handed.add(id(t))
    tr.events.append(Event("inplace", [ref], [], {"tensor": t, "name": op, "kw": kw}))
    return out


def _recorded(fn: Any, kind: str) -> Any:
    """`fn` (an optimizer's or module's method), recorded whole while a trace runs."""

    def method(*args: Any, **kwargs: Any) -> Any:
        tr = hooks.tracer
        if tr is None:
            return fn(*args, **kwargs)
        return tr.call(fn, kind, args, kwargs)

    return method


def _module_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    tr = hooks.tracer
    if tr is not None and threading.get_ident() == tr.thread:
        tr.modules.setdefault(id(self), (self, self.training))
    return _orig["module_call"](self, *args, **kwargs)


def _grad_setter(self: Tensor, value: Any) -> None:
    tr = hooks.tracer
    if tr is not None and tr.active():
        if value is None:
            tr.touch(self, reads=False)
            tr.events.append(Event("grad_none", info={"tensor": self}))
        else:
            tr.brk("a tensor was assigned to .grad")
    _orig["grad"].fset(self, value)


def _reader(name: str) -> Any:
    original = getattr(Tensor, name)

    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        tr = hooks.tracer
        if tr is not None and tr.active():
            what = {"__bool__": "bool(tensor)", "__float__": "float(tensor)",
                    "__int__": "int(tensor)", "__index__": "a tensor used as an index",
                    "__array__": "np.asarray(tensor)"}.get(name, f".{name}()")  # fmt: skip
            tr.brk(
                f"{what} reads a tensor's value into Python; control flow on it cannot be "
                "replayed (return the tensor and read it after the call)"
            )
        return original(self, *args, **kwargs)

    return read


_READERS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__",
            "__array__")  # fmt: skip


def _wrap_factory(original: Any) -> Any:
    def make(cls: Any, data: Any, *rest: Any) -> Tensor:
        t = original.__func__(cls, data, *rest)
        tr = hooks.tracer
        if tr is not None and tr.active():
            tr.created.add(id(t))
            tr.created.add(id(t.data))
            tr.keep.append(t)
        return t

    return classmethod(make)


def _tensor_init(self: Tensor, *args: Any, **kwargs: Any) -> None:
    _orig["init"](self, *args, **kwargs)
    tr = hooks.tracer
    if tr is not None and tr.active():
        tr.created.add(id(self))
        tr.created.add(id(self.data))
        tr.keep.append(self)


class _Generator:
    """Stands in for the global generator during a trace: a draw outside a replayable call
    (dropout's mask) would be frozen into the plan, so it ends the capture."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        tr = hooks.tracer
        if tr is not None and tr.active():
            tr.brk("random numbers drawn outside dropout; pass random tensors as arguments")
        return getattr(self._real, name)


# NumPy functions that find positions from values (max(dim)'s argmax, sort's argsort,
# topk's take): arrays they return while a trace runs are marked as computed from the data,
# so that passing them to an op (as indices) ends the capture instead of freezing them.
_FINDERS = ("argmax", "argmin", "argsort", "argpartition", "lexsort", "nonzero",
            "flatnonzero", "argwhere", "searchsorted", "unique", "take")  # fmt: skip


def _finder(original: Any) -> Any:
    def find(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        tr = hooks.tracer
        if tr is not None and tr.active():
            for a in _arrays(out):
                tr.created.add(id(a))
                tr.keep.append(a)
        return out

    return find


_patch_lock = threading.Lock()


def start(tr: Tracer) -> None:
    """Swap in the recording entry points (one trace at a time per process)."""
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer

    _patch_lock.acquire()
    _orig.update(
        _vjp=autograd._vjp,
        _sum_to=autograd._sum_to,
        _add=autograd._add,
        _accumulate=autograd._accumulate,
        _run_hooks=autograd._run_hooks,
        _run_backward=autograd._run_backward,
        _as_root_grad=autograd._as_root_grad,
        module_call=Module.__call__,
        inplace=ops.inplace,
        opt_step=Optimizer.__dict__["step"],
        opt_zero=Optimizer.__dict__["zero_grad"],
        module_zero=Module.__dict__["zero_grad"],
        grad=Tensor.__dict__["grad"],
        wrap=Tensor.__dict__["_wrap"],
        from_op=Tensor.__dict__["_from_op"],
        init=Tensor.__init__,
        readers={n: Tensor.__dict__[n] for n in _READERS},
        generator=random._generator,
        finders={n: getattr(np, n) for n in _FINDERS},
    )
    primitive.observer = _prim_call
    for name in ("_vjp", "_sum_to", "_add", "_accumulate", "_run_hooks", "_run_backward",
                 "_as_root_grad"):  # fmt: skip
        setattr(autograd, name, globals()[name])
    Module.__call__ = _module_call  # type: ignore[method-assign]
    ops.inplace = _inplace
    Optimizer.step = _recorded(Optimizer.step, "call")  # type: ignore[method-assign]
    Optimizer.zero_grad = _recorded(Optimizer.zero_grad, "zero_grad")  # type: ignore[method-assign]
    Module.zero_grad = _recorded(Module.zero_grad, "zero_grad")  # type: ignore[method-assign]
    Tensor.grad = property(_orig["grad"].fget, _grad_setter)  # type: ignore[method-assign,assignment]
    Tensor._wrap = _wrap_factory(Tensor.__dict__["_wrap"])  # type: ignore[method-assign]
    Tensor._from_op = _wrap_factory(Tensor.__dict__["_from_op"])  # type: ignore[method-assign]
    Tensor.__init__ = _tensor_init  # type: ignore[method-assign]
    for n in _READERS:
        setattr(Tensor, n, _reader(n))
    random._generator = _Generator(random._generator)  # type: ignore[assignment]
    for n, f in _orig["finders"].items():
        setattr(np, n, _finder(f))
    hooks.tracer = tr


def stop(tr: Tracer) -> None:
    """Restore the eager entry points."""
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer

    try:
        hooks.tracer = None
        o = _orig
        primitive.observer = None
        for name in ("_vjp", "_sum_to", "_add", "_accumulate", "_run_hooks",
                     "_run_backward", "_as_root_grad"):  # fmt: skip
            setattr(autograd, name, o[name])
        Module.__call__ = o["module_call"]  # type: ignore[method-assign]
        ops.inplace = o["inplace"]
        Optimizer.step = o["opt_step"]  # type: ignore[method-assign]
        Optimizer.zero_grad = o["opt_zero"]  # type: ignore[method-assign]
        Module.zero_grad = o["module_zero"]  # type: ignore[method-assign]
        Tensor.grad = o["grad"]  # type: ignore[method-assign]
        Tensor._wrap = o["wrap"]  # type: ignore[method-assign]
        Tensor._from_op = o["from_op"]  # type: ignore[method-assign]
        Tensor.__init__ = o["init"]  # type: ignore[method-assign]
        for n, f in o["readers"].items():
            setattr(Tensor, n, f)
        for n, f in o["finders"].items():
            setattr(np, n, f)
        if isinstance(random._generator, _Generator):
            random._generator = o["generator"]
        else:
            tr.brk("manual_seed() was called inside the function")
    finally:
        _orig.clear()
        _patch_lock.release()
