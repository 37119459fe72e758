"""The compiled function: signatures, the plan cache, tracing on a miss, eager fallback."""

from __future__ import annotations

import time
import types
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..grad_mode import context
from ..tensor import Tensor
from . import trace
from .plan import MISS, Plan


def _sig(v: Any) -> Any:
    """The part of the signature one argument contributes (shapes, dtypes, flags)."""
    if isinstance(v, Tensor):
        d = v.data
        return (d.shape, d.dtype.str, v._requires_grad)
    if isinstance(v, np.ndarray):
        return ("array", v.shape, v.dtype.str)
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, *map(_sig, v))
    if isinstance(v, dict):
        return ("dict", *((k, _sig(a)) for k, a in v.items()))
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return (type(v).__name__, v)


class CompiledFunction:
    """What `mg.compile(fn)` returns: call it as `fn`. `traces` counts the calls that were
    traced, `replays` those replayed; `fallback` says why the function runs eagerly (None
    while it is captured); `trace_seconds` is the cost of the last trace."""

    def __init__(self, fn: Callable[..., Any], fullgraph: bool, cache_size: int) -> None:
        self.fn = fn
        self.fullgraph = fullgraph
        self.cache_size = cache_size
        self.plans: OrderedDict[Any, Plan] = OrderedDict()
        self.fallback: str | None = None
        self.traces = 0
        self.replays = 0
        self.trace_seconds = 0.0
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", "compiled")

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # as a method decorator: the instance becomes the first argument
        return self if obj is None else types.MethodType(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fallback is not None or trace.hooks.tracer is not None:
            # eager when it cannot be captured, or while an outer compiled function traces
            return self.fn(*args, **kwargs)
        key = (
            context().enabled,
            tuple(map(_sig, args)),
            tuple((k, _sig(v)) for k, v in kwargs.items()),
        )
        plan = self.plans.get(key)
        if plan is not None:
            out = plan.run(args, kwargs)
            if out is not MISS:
                self.replays += 1
                return out
            del self.plans[key]  # a guard failed: trace again
        return self._trace(key, args, kwargs)

    def _trace(self, key: Any, args: tuple, kwargs: dict) -> Any:
        t0 = time.perf_counter()
        tr = trace.Tracer(self.fullgraph)
        for i, a in enumerate(args):
            _inputs(tr, a, ("a", i))
        for k, a in kwargs.items():
            _inputs(tr, a, ("k", k))
        trace.start(tr)
        try:
            result = self.fn(*args, **kwargs)
            tr.check_versions()
            tr.check_result(result)
        finally:
            trace.stop(tr)
        self.traces += 1
        if tr.broken is not None:
            self.fallback = tr.broken
            warnings.warn(
                f"mg.compile: {self.__name__} runs eagerly from now on: {tr.broken}",
                stacklevel=3,
            )
            return result
        self.plans[key] = Plan(tr, result)
        if len(self.plans) > self.cache_size:
            self.plans.popitem(last=False)
        self.trace_seconds = time.perf_counter() - t0
        return result

    def plan_source(self) -> str:
        """The generated code of the most recent plan (for reading and debugging)."""
        return next(reversed(self.plans.values())).source if self.plans else ""


def _inputs(tr: trace.Tracer, v: Any, path: tuple) -> None:
    if isinstance(v, Tensor):
        tr.add_input(v, path)
    elif isinstance(v, np.ndarray):
        tr.add_array_input(v, path)
    elif isinstance(v, (list, tuple)):
        for i, a in enumerate(v):
            _inputs(tr, a, path + (i,))
    elif isinstance(v, dict):
        for k, a in v.items():
            _inputs(tr, a, path + (k,))
