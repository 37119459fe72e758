"""From a trace to a plan: one generated Python function of NumPy calls.

Each recorded event becomes either a kernel over preallocated buffers (kernels.py) or a call
of the primitive's own function (any op, any layer). Buffers are assigned once, by
lifetime: a buffer whose value is dead is reused by a later kernel of the same shape and
dtype, and an elementwise kernel overwrites its input when that input dies there. The
generated function checks its guards (module modes, parameters' arrays, gradient states),
then runs the calls in the traced order, reading every value that may change between calls
(arguments, parameter arrays, learning rates, optimizer state) at replay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import graph
from ..grad_mode import context
from ..optim.optimizer import Optimizer, stamp
from ..optim.sgd import SGD
from ..tensor import Tensor
from . import kernels, kernels_cnn
from .trace import Const, Event, Slot, Tracer

MISS = object()  # returned by a plan whose guards fail

_NUMPY = ("matmul", "add", "subtract", "multiply", "true_divide", "negative", "exp", "log",
          "tanh", "sqrt", "maximum", "reciprocal", "greater", "errstate", "copyto")  # fmt: skip


# The kernels by primitive name: the common ops' and the CNN ops' (kept in their own module).
_FORWARD = {**kernels.FORWARD, **kernels_cnn.FORWARD}
_BACKWARD = {**kernels.BACKWARD, **kernels_cnn.BACKWARD}


class _Namer:
    """Names in the generated code: locals for slots, closure constants for the rest."""

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}
        self.by_id: dict[int, str] = {}

    def const(self, value: Any) -> str:
        if type(value) in (int, bool) or value is None:
            return repr(value)
        if type(value) is float and np.isfinite(value):
            return repr(value)
        name = self.by_id.get(id(value))
        if name is None:
            name = self.by_id[id(value)] = f"c{len(self.consts)}"
            self.consts[name] = value
        return name

    def arr(self, v: Any) -> str:
        if isinstance(v, Const):
            return self.const(v.value)
        if v is None:
            return "None"
        if v.buffer is not None:
            return self.const(v.buffer)
        if v.kind == "external":
            return self.const(v.value)
        return f"v{v.index}"

    def fixed(self, v: Any) -> Any:
        """The array behind `v` when it is the same object at every replay (a constant, a
        buffer, a parameter's array), else None (then views of it are taken at replay)."""
        if isinstance(v, Const) and isinstance(v.value, np.ndarray):
            return v.value
        if isinstance(v, Slot):
            if isinstance(v.buffer, np.ndarray):
                return v.buffer
            if v.kind == "external":
                return v.value
        return None

    def T(self, v: Any) -> str:  # noqa: N802
        a = self.fixed(v)
        return self.const(a.T) if a is not None else f"{self.arr(v)}.T"

    def view(self, v: Any, shape: tuple) -> str:
        """`v` reshaped: a view made once when its array is fixed and reshaping it is a view
        (else the reshape runs at replay, copying where eager's copies)."""
        a = self.fixed(v)
        if a is not None:
            r = a.reshape(shape)
            if np.may_share_memory(r, a) or a.size == 0:
                return self.const(r)
        return f"{self.arr(v)}.reshape({shape!r})"


class Plan:
    """A compiled call: `run(args, kwargs)` replays it, or returns `MISS` (guards failed)."""

    def __init__(self, tr: Tracer, result: Any) -> None:
        self.n_events = len(tr.events)  # recorded events; `n_kernels` of them got a kernel
        self.n_kernels = 0
        nm = _Namer()
        self._nm = nm
        res_reads: dict[int, int] = {}
        for ev in tr.events:
            if ev.op == "vjp" and ev.ins[2] is not None:
                res_reads[id(ev.ins[2])] = res_reads.get(id(ev.ins[2]), 0) + 1
        steps = [self._lower(ev, res_reads) for ev in tr.events]
        self._roots = [_root(s) for s in _tensor_slots(result, tr)]
        self._pin(tr, steps)
        self._assign_buffers(tr, steps)
        self._args: dict[int, str] = {}  # id(tensor argument) -> its expression
        self._arrays: dict[int, str] = {}  # id(slot of an ndarray argument) -> its expression
        for s in tr.externals.values():
            if s.kind == "input":
                expr = "args" if s.path[0] == "a" else "kwargs"
                expr += "".join(f"[{p!r}]" for p in s.path[1:])
                if s.tensor is None:
                    self._arrays[id(s)] = expr
                else:
                    self._args[id(s.tensor)] = expr
        body = self._guards(tr, nm)
        guards = len(body)
        body += self._inputs(tr, nm)
        self.defined = {id(s) for s in tr.externals.values()}
        for ev, k in zip(tr.events, steps, strict=True):
            body += self._label_check(ev, nm, guard=False)
            body += k.emit(nm) if isinstance(k, kernels.Kernel) else self._call(ev, nm)
            self.defined.update(id(o) for o in ev.outs if o is not None)
        ret = self._returns(result, tr, nm)
        black = sum(k is None and ev.op in ("fwd", "vjp", "sum_to", "add")
                    for ev, k in zip(tr.events, steps, strict=True))  # fmt: skip
        if black:  # primitives' own functions: arrays in, arrays out
            body = body[:guards] + _in_backward(body[guards:] + ret[:-1], ret[-1])
        else:
            body += ret
        self.source = _source(body, nm)
        scope: dict[str, Any] = {n: getattr(np, n) for n in _NUMPY}
        scope.update(MISS=MISS, context=context, ndarray=np.ndarray, asarray=np.asarray)
        scope.update(tick=graph.tick, stamp=stamp)
        exec(self.source, scope)  # noqa: S102 - our own generated code
        self.run = scope["_make"](**nm.consts)
        tr.keep.clear()  # the trace's arrays are no longer needed

    # ---- lowering ------------------------------------------------------------------------
    def _lower(self, ev: Event, res_reads: dict) -> Any:
        make = None
        if ev.op == "fwd":
            make = _FORWARD.get(ev.info["prim"].name)
        elif ev.op == "vjp":
            make = _BACKWARD.get(ev.info["prim"].name)
            res = ev.ins[2]
            if res is not None and res_reads[id(res)] > 1:
                make = None  # backward run twice (retain_graph): the residuals must stay
        elif ev.op == "sum_to":
            make = kernels.sum_to
        elif ev.op == "add":
            make = kernels.add
        k = make(ev) if make is not None else None
        if k is not None:
            self.n_kernels += 1
            return k
        return None

    def _pin(self, tr: Tracer, steps: list) -> None:
        """Gradients get a buffer of their own that outlives the call (`.grad` shows it);
        a kernel whose result only goes to one `.grad` writes it there directly."""
        reads: dict[int, int] = {}
        for ev, k in zip(tr.events, steps, strict=True):
            for v in _reads(ev, k):
                reads[id(_root(v))] = reads.get(id(_root(v)), 0) + 1
        producers = {id(o): k for k in steps if k is not None for o in k.outs}
        for ev in tr.events:
            if ev.op != "acc" or not ev.info["assign"]:
                continue
            g, gs = ev.ins[0], ev.outs[0]
            t = ev.info["tensor"]
            gs.buffer = np.empty(t.shape, t.dtype)
            if (
                isinstance(g, Slot)
                and id(g) in producers
                and g.root is None
                and g.buffer is None
                and reads.get(id(g)) == 1
                and g.value.shape == t.shape
                and g.value.dtype == t.dtype
            ):
                g.buffer = gs.buffer
                ev.info["direct"] = True
            gs.grad_tensor = Tensor._wrap(gs.buffer)

    def _assign_buffers(self, tr: Tracer, steps: list) -> None:
        last: dict[int, int] = {}
        for i, (ev, k) in enumerate(zip(tr.events, steps, strict=True)):
            for v in _reads(ev, k):
                last[id(_root(v))] = i
        for s in self._roots:  # returned values stay until the next call
            last[id(s)] = len(steps)
        pool: dict[tuple, list] = {}
        owned: dict[int, tuple] = {}  # id(root slot) -> (slot, key) of pool buffers held
        for i, k in enumerate(steps):
            if not isinstance(k, kernels.Kernel):
                continue
            for pos, o in enumerate(k.outs):
                if o.buffer is not None:
                    continue
                key = (o.value.shape, o.value.dtype.str)
                src = k.reads[k.inplace[pos]] if pos in k.inplace else None
                if (
                    isinstance(src, Slot)
                    and id(src) in owned
                    and owned[id(src)][1] == key
                    and last.get(id(src)) == i
                    and sum(_root(r) is src for r in k.reads) == 1
                ):
                    o.buffer = src.buffer
                    del owned[id(src)]
                elif pool.get(key):
                    o.buffer = pool[key].pop()
                else:
                    o.buffer = np.empty(o.value.shape, o.value.dtype)
                owned[id(o)] = (o, key)
            for sid, (s, key) in list(owned.items()):
                if last.get(sid, -1) <= i:
                    pool.setdefault(key, []).append(s.buffer)
                    del owned[sid]

    # ---- code ------------------------------------------------------------------------------
    def _guards(self, tr: Tracer, nm: _Namer) -> list[str]:
        conds = []
        for m, training in tr.modules.values():
            conds.append(f"{nm.const(m)}.training is {training!r}")
        for s in tr.externals.values():
            if s.kind == "external":
                t = nm.const(s.tensor)
                conds.append(f"{t}.data is {nm.const(s.value)}")
                conds.append(f"{t}._requires_grad is {s.tensor._requires_grad!r}")
        for t, was_none in tr.grad_entry.values():
            conds.append(f"({self._tensor(t, nm)}._grad is None) is {was_none!r}")
        for ev in tr.events:
            conds += self._label_check(ev, nm, guard=True)
        if not conds:
            return []
        return ["if not (" + "\n        and ".join(conds) + "):", "    return MISS"]

    def _label_check(self, ev: Event, nm: _Namer, guard: bool) -> list[str]:
        """Class labels read at replay must still be valid: `cross_entropy` takes its fused
        path only when every label lies in [0, C) (checked on the data: the unsigned view's
        maximum), else another path (ignore_index, ...). A plan traced on the fused path
        checks this again at every call: as a guard when the labels are an argument (a
        failed guard traces again), else where they are computed (an error; never a wrong
        value)."""
        if not (ev.op == "fwd" and ev.info["prim"].name == "softmax_cross_entropy"):
            return []
        t = ev.ins[1]
        if not (isinstance(t, Slot) and t.value.dtype.kind in "iu" and t.value.ndim == 1):
            return []
        view = nm.const(np.dtype(f"u{t.value.dtype.itemsize}"))
        c = ev.ins[0].value.shape[1] if isinstance(ev.ins[0], Slot) else None
        if c is None or t.value.shape[0] == 0:
            return []
        if t.kind == "input":
            if not guard:
                return []
            expr = self._arrays.get(id(t)) or self._args[id(t.tensor)] + ".data"
            return [f"maximum.reduce({expr}.view({view})) < {c}"]
        if guard:
            return []
        return [
            f"if not maximum.reduce({nm.arr(t)}.view({view})) < {c}:",
            f"    raise ValueError({_LABELS!r})",
        ]

    def _inputs(self, tr: Tracer, nm: _Namer) -> list[str]:
        lines = []
        for s in tr.externals.values():
            if s.kind == "input" and s.tensor is None:
                lines.append(f"v{s.index} = {self._arrays[id(s)]}")
            elif s.kind == "input":
                lines.append(f"v{s.index} = {self._args[id(s.tensor)]}.data")
        return lines

    def _tensor(self, t: Tensor, nm: _Namer) -> str:
        """A tensor in the code: this call's argument when it is one, else the tensor."""
        return self._args.get(id(t)) or nm.const(t)

    def _call(self, ev: Event, nm: _Namer) -> list[str]:
        if ev.op == "fwd":
            prim = ev.info["prim"]
            call = f"{nm.const(prim.impl)}({_args(ev.ins, ev.info['params'], nm, ev.info)})"
            out, res = ev.outs
            o = nm.arr(out) if id(out) not in self.defined else "_o"
            if prim.residuals:
                lines = [f"{o}, {nm.arr(res) if res is not None else '_'} = {call}"]
            else:
                lines = [f"{o} = {call}"]
            return lines + [f"if type({o}) is not ndarray:", f"    {o} = asarray({o})"]
        if ev.op == "vjp":
            prim = ev.info["prim"]
            g, out, res, *args = ev.ins
            head = f"{nm.arr(g)}, {nm.arr(out)}, {nm.const(ev.info['needs'])}, "
            if prim.fast is not None:  # fast(g, out, needs, res, *arrays, **params)
                head += f"{nm.arr(res) if res else 'None'}, "
                fn = prim.fast
            else:
                fn = prim.vjp
            text = _args(args, dict(ev.info["params"]), nm, ev.info)
            lines = [f"_r = {nm.const(fn)}({head}{text})"]
            for i, o in enumerate(ev.outs):
                if o is not None and id(o) not in self.defined:
                    target = nm.arr(o)
                    if o.buffer is not None:
                        lines.append(f"copyto({target}, _r[{i}])")
                    else:
                        lines.append(f"{target} = _r[{i}]")
            return lines
        if ev.op in ("sum_to", "add"):  # a kernel declined (e.g. an integer gradient)
            ins = ", ".join(nm.arr(v) for v in ev.ins)
            fn = nm.const(_ENGINE[ev.op])
            return [f"{nm.arr(ev.outs[0])} = {fn}({ins}, {ev.info.get('shape')!r})"]
        if ev.op == "acc":
            g, gs = ev.ins[0], ev.outs[0]
            t = self._tensor(ev.info["tensor"], nm)
            if ev.info["assign"]:
                lines = [] if ev.info.get("direct") else [f"copyto({nm.arr(gs)}, {nm.arr(g)})"]
                return lines + [f"{t}._grad = {nm.const(gs.grad_tensor)}"]
            return [f"v{gs.index} = {t}._grad.data", f"add(v{gs.index}, {nm.arr(g)}, "
                    f"out=v{gs.index})"]  # fmt: skip
        if ev.op == "inplace":
            t = ev.info["tensor"]
            kw = "".join(f", {k}={nm.const(v)}" for k, v in ev.info["kw"].items())
            return [f"{nm.const(_INPLACE)}({self._tensor(t, nm)}, {ev.info['name']!r}, "
                    f"{nm.arr(ev.ins[0])}{kw})"]  # fmt: skip
        if ev.op == "grad_none":
            return [f"{self._tensor(ev.info['tensor'], nm)}._grad = None"]
        if ev.op == "call":
            return self._replay_call(ev, nm)
        raise AssertionError(ev.op)

    def _replay_call(self, ev: Event, nm: _Namer) -> list[str]:
        fn, args, kwargs = ev.info["fn"], ev.info["args"], ev.info["kwargs"]
        opt = args[0] if args else None
        if isinstance(opt, Optimizer) and fn is Optimizer.zero_grad:
            if kwargs.get("set_to_none", args[1:2] != (False,)):
                return _zero_grad(opt, nm)
        if type(opt) is SGD and fn is Optimizer.step and len(args) == 1:
            lowered = _sgd_step(opt, nm, ev.info["had_grad"])
            if lowered:
                return lowered
        live = {id(s.value): s for s in ev.ins}  # arrays from the data: their slots

        def arg(a: Any) -> str:
            s = live.get(id(a)) if isinstance(a, np.ndarray) else None
            return nm.arr(s) if s is not None else nm.const(a)

        call = f"{nm.const(fn)}(" + ", ".join(arg(a) for a in args)
        call += "".join(f", {k}={arg(v)}" for k, v in kwargs.items()) + ")"
        if not ev.outs:
            return [call]
        o = nm.arr(ev.outs[0])
        return [f"{o} = {call}" + (".data" if ev.info.get("tensor_out") else "")]

    def _returns(self, result: Any, tr: Tracer, nm: _Namer) -> list[str]:
        lines: list[str] = []

        def build(v: Any) -> str:
            if isinstance(v, Tensor):
                s = tr.slots.get(id(v.data))
                out = Tensor._wrap(v.data)
                if s is None or s.kind in ("input", "external"):
                    return self._tensor(v, nm)  # returned as it is
                name = nm.const(out)
                if s.buffer is not None and isinstance(s.buffer, np.ndarray):
                    out.data = s.buffer
                else:
                    lines.append(f"{name}.data = {nm.arr(s)}")
                return name
            if isinstance(v, np.ndarray) and id(v) in tr.slots:
                s = tr.slots[id(v)]
                if id(s) in self._arrays:
                    return self._arrays[id(s)]  # an ndarray argument, as it is
                return nm.arr(s)  # an op's array: this call's (refilled by the next)
            if isinstance(v, tuple):
                return "(" + "".join(build(a) + ", " for a in v) + ")"
            if isinstance(v, list):
                return "[" + ", ".join(build(a) for a in v) + "]"
            if isinstance(v, dict):
                return "{" + ", ".join(f"{k!r}: {build(a)}" for k, a in v.items()) + "}"
            return nm.const(v)

        expr = build(result)
        return lines + [f"return {expr}"]


def _root(v: Any) -> Any:
    return v.root if isinstance(v, Slot) and v.root is not None else v


def _reads(ev: Event, k: Any) -> list:
    vals = k.reads if isinstance(k, kernels.Kernel) else ev.ins
    slots = [v for v in vals if isinstance(v, Slot)]
    slots += [s for v in ev.info.get("live", {}).values() for s in _param_slots(v)]
    return slots + [d for v in slots for d in v.deps]


def _tensor_slots(v: Any, tr: Tracer) -> list:
    if isinstance(v, (Tensor, np.ndarray)):  # a returned tensor, or a returned `.data`
        s = tr.slots.get(id(v.data if isinstance(v, Tensor) else v))
        return [s] if s is not None else []
    if isinstance(v, (list, tuple)):
        return [s for a in v for s in _tensor_slots(a, tr)]
    if isinstance(v, dict):
        return [s for a in v.values() for s in _tensor_slots(a, tr)]
    return []


def _args(args: list, params: dict, nm: _Namer, info: dict) -> str:
    live = info.get("live", {})
    parts = [nm.arr(a) for a in args]
    parts += [f"{k}={_param(live[k], nm) if k in live else nm.const(v)}" for k, v in params.items()]
    return ", ".join(parts)


def _param(v: Any, nm: _Namer) -> str:
    """A parameter holding arrays from the data (indices): its slots read at replay."""
    if isinstance(v, Slot):
        return nm.arr(v)
    if isinstance(v, (tuple, list)):
        inner = "".join(_param(a, nm) + ", " for a in v)
        return f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
    return nm.const(v)


def _param_slots(v: Any) -> list:
    if isinstance(v, Slot):
        return [v]
    if isinstance(v, (tuple, list)):
        return [s for a in v for s in _param_slots(a)]
    return []


def _engine_sum_to(g: Any, shape: tuple) -> Any:
    from ..ops.shape import sum_to

    return sum_to.impl(g, shape)


def _engine_add(a: Any, b: Any, _: Any = None) -> Any:
    return a + b


def _inplace(t: Tensor, op: str, other: Any, **kw: Any) -> None:
    """An in-place op traced outside the graph (under no_grad): the same write, the same
    version bump (ops.inplace's unrecorded branch)."""
    from ..ops.inplace import _write

    _write(op, t.data, other, **kw)
    t._bump_version(graph.tick())


_LABELS = (
    "mg.compile: the class labels computed in this step are not all in [0, C) (e.g. an "
    "ignore_index); the plan was traced with labels that were: pass the labels as an "
    "argument (a new trace then handles them) or call the function eagerly"
)
_INPLACE = _inplace
_ENGINE = {"sum_to": _engine_sum_to, "add": _engine_add}


def _zero_grad(opt: Optimizer, nm: _Namer) -> list[str]:
    """`opt.zero_grad()` (to None) for the groups seen at trace; the eager call otherwise."""
    groups = opt.param_groups
    lines = [f"if {nm.const(opt)}.param_groups is {nm.const(groups)} "
             f"and len({nm.const(groups)}) == {len(groups)}:"]  # fmt: skip
    for g in groups:
        lines += [f"    {nm.const(p)}._grad = None" for p in g["params"]]
    lines += ["else:", f"    {nm.const(Optimizer.zero_grad)}({nm.const(opt)})"]
    return lines


_CHUNK = 65536  # elements: larger parameters are updated in pieces through a small scratch


def _sgd_step(opt: SGD, nm: _Namer, had_grad: set) -> list[str] | None:
    """Plain SGD (θ -= lr g, as `SGD._update_group`) on the gradient buffers, with the
    learning rate read at replay; any other setting at replay runs the eager step.

    `lr g` goes through a scratch array (`.grad` must keep the gradient); a parameter larger
    than `_CHUNK` elements is updated piece by piece, so the scratch stays small (the same
    elementwise operations: the same result)."""
    groups = opt.param_groups
    updated = [p for g in groups for p in g["params"] if id(p) in had_grad]
    if not updated:
        return None
    o = nm.const(opt)
    conds = [f"{o}.param_groups is {nm.const(groups)}", f"len({nm.const(groups)}) == {len(groups)}"]
    for g in groups:
        gd = nm.const(g)
        conds.append(f"not ({gd}['momentum'] or {gd}['weight_decay'] or {gd}['maximize'])")
    lines = ["if " + " and ".join(conds) + ":", "    _ck = tick()"]
    # one scratch array, shared by the parameters in turn (one per dtype)
    scratch = {
        dt: np.empty(min(_CHUNK, max(p.data.size for p in updated if p.dtype == dt)), dt)
        for dt in {p.dtype for p in updated}
    }
    for g in groups:
        lines.append(f"    _lr = {nm.const(g)}['lr']")
        for p in g["params"]:
            if id(p) not in had_grad:
                continue
            pn, n = nm.const(p), p.data.size
            if n <= _CHUNK:
                sc = nm.const(scratch[p.dtype][:n].reshape(p.shape))
                lines += [
                    f"    _d = {pn}.data",
                    f"    multiply({pn}._grad.data, _lr, out={sc})",
                    f"    subtract(_d, {sc}, out=_d)",
                ]
            else:
                lines += [
                    f"    _d = {pn}.data.reshape(-1)",
                    f"    _g = {pn}._grad.data.reshape(-1)",
                ]
                for a in range(0, n, _CHUNK):
                    b = min(a + _CHUNK, n)
                    sc = nm.const(scratch[p.dtype][: b - a])
                    lines += [
                        f"    multiply(_g[{a}:{b}], _lr, out={sc})",
                        f"    subtract(_d[{a}:{b}], {sc}, out=_d[{a}:{b}])",
                    ]
            lines.append(f"    stamp({pn}, _ck)")
    lines += ["else:", f"    {nm.const(Optimizer.step)}({o})"]
    return lines


def _in_backward(lines: list[str], ret: str) -> list[str]:
    """Run `lines` as a fast backward pass runs VJPs: primitives on arrays give arrays."""
    return (
        ["_ctx = context()", "_prev = _ctx.in_backward", "_ctx.in_backward = True", "try:"]
        + ["    " + line for line in lines]
        + ["    " + ret, "finally:", "    _ctx.in_backward = _prev"]
    )


def _source(body: list[str], nm: _Namer) -> str:
    params = ", ".join(nm.consts)
    inner = "\n".join("        " + line for line in body)
    return f"def _make({params}):\n    def replay(args, kwargs):\n{inner}\n    return replay\n"
