"""Grad mode, per thread as in PyTorch: whether ops are recorded (`no_grad`, `enable_grad`,
`set_grad_enabled`, `inference_mode`), and anomaly detection (`detect_anomaly`).

A new thread starts with recording on and anomaly detection off, whatever other threads do.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any


class ThreadContext:
    """This thread's switches, as every op reads them: one thread-local lookup per op
    (`context()`), then plain attributes."""

    __slots__ = ("enabled", "anomaly", "record", "in_backward", "modules")

    def __init__(self) -> None:
        self.enabled = True  # ops on tensors that require grad are recorded
        self.anomaly = False  # record creation traces, check backward outputs for NaN/inf
        # 0 = not recording, 1 = recording, 2 = recording with creation traces (`_set`)
        self.record = 1
        # A fast (ndarray) backward pass is running: primitives of plain arrays give plain
        # arrays there (the VJPs are written once for arrays and Tensors); everywhere else a
        # public op always returns a Tensor.
        self.in_backward = False
        # The modules whose forward is running, outermost first (set by `nn.Module`); each
        # recorded node keeps it, so that drawings can group ops by module.
        self.modules: tuple = ()


class _Local(threading.local):
    def __init__(self) -> None:  # runs once in each thread that uses it
        self.ctx = ThreadContext()


_local = _Local()


def context() -> ThreadContext:
    """The calling thread's `ThreadContext` (a new thread starts with the defaults)."""
    return _local.ctx


def _set(enabled: bool | None = None, anomaly: bool | None = None) -> None:
    """Change this thread's switches (and `record`, which ops read)."""
    ctx = _local.ctx
    if enabled is not None:
        ctx.enabled = enabled
    if anomaly is not None:
        ctx.anomaly = anomaly
    ctx.record = (2 if ctx.anomaly else 1) if ctx.enabled else 0


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad are being recorded (in this thread)."""
    return _local.ctx.enabled


def _wrap_generator(make_mode: Callable[[], Any], gen: Any) -> Any:
    """Run each step of a generator inside the mode (PyTorch does the same): the mode must
    not leak to the caller between `yield`s."""
    try:
        with make_mode():
            response = gen.send(None)
        while True:
            try:
                request = yield response
            except GeneratorExit:
                with make_mode():
                    gen.close()
                raise
            except BaseException as e:
                with make_mode():
                    response = gen.throw(e)
            else:
                with make_mode():
                    response = gen.send(request)
    except StopIteration as stop:
        return stop.value


def _decorate(make_mode: Callable[[], Any], fn: Callable) -> Callable:
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            return (yield from _wrap_generator(make_mode, fn(*args, **kwargs)))

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with make_mode():
            return fn(*args, **kwargs)

    return wrapper


class set_grad_enabled:
    """Turn recording on or off: as a function call (takes effect at once, as in PyTorch),
    a context manager (restored on exit) or a decorator.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0], requires_grad=True)
        >>> with mg.set_grad_enabled(False):
        ...     y = x * 2
        >>> y.requires_grad, mg.is_grad_enabled()
        (False, True)
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = _local.ctx.enabled
        _set(enabled=self.mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _set(enabled=self.prev)

    def __call__(self, fn: Callable) -> Callable:
        _set(enabled=self.prev)  # used as a decorator: the call above must not stick
        mode = self.mode
        return _decorate(lambda: set_grad_enabled(mode), fn)


class _Mode:
    """A grad-mode context manager that is also a decorator, with or without brackets
    (`@mg.no_grad` and `@mg.no_grad()`), and nests (`prev` is a stack)."""

    mode = True

    def __new__(cls, fn: Callable | None = None) -> Any:
        self = super().__new__(cls)
        if fn is None:
            return self
        if not callable(fn):
            raise TypeError(f"{cls.__name__}() takes no arguments, got {fn!r}")
        return _decorate(cls, fn)

    def __init__(self, fn: Callable | None = None) -> None:
        self.prev: list[bool] = []

    def __enter__(self) -> None:
        self.prev.append(_local.ctx.enabled)
        _set(enabled=self.mode)

    def __exit__(self, *exc: object) -> None:
        _set(enabled=self.prev.pop())

    def __call__(self, fn: Callable) -> Callable:
        return _decorate(type(self), fn)


class no_grad(_Mode):
    """Context manager and decorator: inside it no graph is recorded at all.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0], requires_grad=True)
        >>> with mg.no_grad():
        ...     y = x * 2
        >>> y.requires_grad, y.grad_fn is None
        (False, True)
    """

    mode = False


class enable_grad(_Mode):
    """Context manager and decorator: turns recording back on (e.g. inside `no_grad`)."""

    mode = True


inference_mode = no_grad  # PyTorch's faster no_grad; here they are the same thing


class detect_anomaly:
    """Context manager (and decorator): record where every op was created and check every
    backward output; the first VJP that produces NaN or inf raises `RuntimeError` naming
    the op and the traceback of the forward call that created it."""

    def __init__(self, check_nan: bool = True) -> None:
        self.mode = bool(check_nan)
        self.prev: list[bool] = []

    def __enter__(self) -> detect_anomaly:
        self.prev.append(_local.ctx.anomaly)
        _set(anomaly=self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        _set(anomaly=self.prev.pop())

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode
        return _decorate(lambda: detect_anomaly(mode), fn)


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for this thread."""
    _set(anomaly=bool(mode))


def is_anomaly_enabled() -> bool:
    return _local.ctx.anomaly
