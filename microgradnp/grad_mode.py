"""Grad mode: whether ops are recorded (`no_grad`, `enable_grad`, `set_grad_enabled`) and
anomaly detection (`detect_anomaly`). The switches themselves live on `graph.GradMode`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .graph import GradMode


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad are being recorded."""
    return GradMode.enabled


class set_grad_enabled:
    """Context manager / decorator that turns recording on or off.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0], requires_grad=True)
        >>> with mg.no_grad():
        ...     y = x * 2
        >>> y.requires_grad, y.grad_fn is None
        (False, True)
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(GradMode.enabled)
        GradMode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        GradMode.enabled = self._prev.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Context manager and decorator: inside it no graph is recorded at all."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager and decorator: turns recording back on (e.g. inside `no_grad`)."""

    def __init__(self) -> None:
        super().__init__(True)


class detect_anomaly:
    """Context manager: record where every op was created and check every backward output.

    The first VJP that produces NaN or inf raises `RuntimeError` naming the op and the
    traceback of the forward call that created it.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.mode = bool(check_nan)

    def __enter__(self) -> detect_anomaly:
        self._prev = GradMode.anomaly
        GradMode.anomaly = self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        GradMode.anomaly = self._prev


def set_detect_anomaly(mode: bool) -> None:
    GradMode.anomaly = bool(mode)
