"""Peak memory of one training step, measured the same way for every NumPy-based contender.

Definition: the most bytes held at any moment during a steady-state training step by
everything the contender allocated since it was built (copies of the weights, gradients,
optimizer state, preallocated buffers, activations, temporaries). The data ``x, y`` exist
before and are shared, so they are not counted. For NumPy-based contenders
``tracemalloc`` sees every array (NumPy reports its allocations to it) and every Python
object; PyTorch allocates outside Python's heap, so its profiler's allocator events give
the same quantity for its tensors (its C++ graph nodes are not counted, a small advantage).

Example::

    >>> from benchmarks.contenders.hand_numpy import HandNumpy
    >>> from benchmarks.problems import make_mlp
    >>> peak_tracemalloc(lambda: HandNumpy().trainer(make_mlp((4, 2, 8, 2)))) > 0
    True
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from benchmarks.contenders.base import Trainer


def peak_tracemalloc(make: Callable[[], Trainer]) -> int:
    """Build, warm up (`prepare()`: one step, or a JIT's capture and first replay), then
    report the peak traced bytes of the next step."""
    gc.collect()
    tracemalloc.start()
    try:
        t = make()
        t.prepare()
        gc.collect()
        tracemalloc.reset_peak()
        t.step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def peak_torch(make: Callable[[], Trainer]) -> int:
    """The same quantity from PyTorch's CPU allocator, via its profiler's memory events.

    Each allocation event carries the allocator's running total of bytes allocated while
    profiling; the peak over the measured step, less the total before the first event, is
    what the run allocated and held at its worst moment.
    """
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile, record_function

    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        t = make()
        t.step()
        with record_function("measured_step"):
            t.step()
    allocs, start = [], None
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        e = stack.pop()
        stack.extend(e.children)
        if e.tag == _EventType.Allocation:
            f = e.extra_fields
            allocs.append((e.start_time_ns, f.alloc_size, f.total_allocated))
        elif e.name == "measured_step":
            start = e.start_time_ns
    if not allocs or start is None:
        raise RuntimeError("the PyTorch profiler reported no allocations")
    allocs.sort()
    base = allocs[0][2] - allocs[0][1]
    return max(total for ts, _, total in allocs if ts >= start) - base
