"""`mg.compile`: trace a training step once, replay it as a static plan of NumPy calls.

Layout: `hooks` (the `replayable` decorator other modules use), `trace` (recording a call),
`kernels` (NumPy kernels over preallocated buffers for the common ops), `plan` (turning a
trace into one generated Python function), `api` (the compiled function: signatures,
cache, fallback). See docs/compile.md for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compile(  # noqa: A001 - PyTorch's name
    fn: Callable[..., Any] | None = None,
    *,
    fullgraph: bool = False,
    dynamic: bool = False,
    cache_size: int = 8,
) -> Any:
    """Compile `fn`: its first call per signature runs eagerly and is recorded; later calls
    with the same signature replay the recording without the framework in the loop.

    Args:
        fn: the function (a training step, a forward pass); also usable as `@mg.compile`
            or `@mg.compile(fullgraph=True)`.
        fullgraph: raise when `fn` cannot be captured (e.g. it calls `.item()`), instead of
            warning and running it eagerly from then on.
        dynamic: only `False` (one plan per argument shape) is supported.
        cache_size: plans kept per function (least recently used dropped).

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = mg.optim.SGD([w], lr=0.1)
        >>> @mg.compile
        ... def step(x):
        ...     opt.zero_grad()
        ...     loss = ((w * x) ** 2).sum()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> x = mg.tensor([1.0, 1.0])
        >>> [round(step(x).item(), 4) for _ in range(3)]
        [5.0, 3.2, 2.048]
    """
    from .api import CompiledFunction

    if dynamic:
        raise NotImplementedError("mg.compile: only dynamic=False is supported")
    if fn is None:
        return lambda f: CompiledFunction(f, fullgraph=fullgraph, cache_size=cache_size)
    return CompiledFunction(fn, fullgraph=fullgraph, cache_size=cache_size)


def __getattr__(name: str) -> Any:
    # `from microgradnp.compile import GraphBreak`, without importing the tracer at start-up
    if name == "GraphBreak":
        from .trace import GraphBreak

        return GraphBreak
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GraphBreak", "compile"]
