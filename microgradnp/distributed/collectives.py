"""Collectives on tensors: all_reduce, broadcast, all_gather, reduce_scatter, barrier.

Each works in place on the tensor's NumPy buffer, handed to MPI through the buffer interface
without a copy (a non-contiguous tensor goes through one contiguous copy). They are not
recorded by autograd and do not bump version counters, like `torch.distributed`'s. With
`async_op=True` they start the non-blocking MPI call and return a `Work` whose `wait()`
completes it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor
from .process_group import mpi, world_comm

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "reduce_scatter",
]


class ReduceOp(enum.Enum):
    """How `all_reduce` and `reduce_scatter` combine the ranks' values.

    `AVG` on an integer dtype divides the sum with truncation toward zero, as C does.
    """

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MAX = "MAX"
    MIN = "MIN"


class Work:
    """A collective started with `async_op=True`; `wait()` blocks until it is done."""

    def __init__(self, request: Any, finish: Callable[[], None]) -> None:
        self._request, self._finish, self._done = request, finish, False

    def wait(self) -> bool:
        if not self._done:
            self._request.Wait()
            self._finish()
            self._done = True
        return True

    def is_completed(self) -> bool:
        return self._done


def _array(tensor: Any, caller: str) -> np.ndarray:
    arr = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{caller}: expected an mg.Tensor, got {type(tensor).__name__}")
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and arr.dtype.itemsize < 4):
        raise TypeError(
            f"{caller}: dtype {arr.dtype} cannot be sent through MPI; use float32, float64 "
            "or an integer dtype"
        )
    if not arr.flags.writeable:
        raise ValueError(f"{caller}: the tensor's buffer (shape {arr.shape}) is read-only")
    return arr


def _check_group(group: Any, caller: str) -> Any:
    if group is not None:
        raise NotImplementedError(
            f"{caller}: only the default group (group=None, every rank) is supported"
        )
    return world_comm(caller)


def _mpi_op(op: ReduceOp, caller: str) -> Any:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{caller}: op must be a ReduceOp, got {op!r}")
    MPI = mpi()  # noqa: N806 - the module's own name
    ops = {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MAX": MPI.MAX, "MIN": MPI.MIN}
    return ops[op.value]


def _divide(buf: np.ndarray, n: int) -> None:
    if buf.dtype.kind == "f":
        buf /= n
    else:
        quotient = np.abs(buf) // n
        buf[...] = np.where(buf < 0, -quotient, quotient)


def _run(request: Any, finish: Callable[[], None], async_op: bool) -> Work | None:
    """A `Work` for a started non-blocking call; after a blocking call, finish now."""
    if async_op:
        return Work(request, finish)
    finish()
    return None


def _contiguous(arr: np.ndarray) -> np.ndarray:
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _finish_reduction(
    arr: np.ndarray, buf: np.ndarray, op: ReduceOp, size: int
) -> Callable[[], None]:
    """What follows a reduction into `buf`: the division of an average by the number of
    ranks, then the copy into `arr` where `buf` is a contiguous copy of it."""

    def finish() -> None:
        if op is ReduceOp.AVG:
            _divide(buf, size)
        if buf is not arr:
            arr[...] = buf

    return finish


def all_reduce(
    tensor: Any, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Combine `tensor` across all ranks with `op`; every rank gets the result in place.

    Example:
        >>> import microgradnp as mg
        >>> dist = mg.distributed
        >>> dist.init_process_group("mpi")
        >>> t = mg.tensor([1.0, 2.0])
        >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)  # one rank: the sum is itself
        >>> t.tolist()
        [1.0, 2.0]
        >>> dist.destroy_process_group()
    """
    comm = _check_group(group, "all_reduce")
    arr = _array(tensor, "all_reduce")
    buf = _contiguous(arr)
    mpi_op = _mpi_op(op, "all_reduce")
    finish = _finish_reduction(arr, buf, op, comm.Get_size())

    call = comm.Iallreduce if async_op else comm.Allreduce
    return _run(call(mpi().IN_PLACE, buf, op=mpi_op), finish, async_op)


def broadcast(tensor: Any, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy rank `src`'s `tensor` into the same-shaped `tensor` of every other rank."""
    comm = _check_group(group, "broadcast")
    arr = _array(tensor, "broadcast")
    if not isinstance(src, (int, np.integer)) or not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src must be a rank in [0, {comm.Get_size()}), got {src}")
    buf = _contiguous(arr)

    def finish() -> None:
        if buf is not arr:
            arr[...] = buf

    call = comm.Ibcast if async_op else comm.Bcast
    return _run(call(buf, root=int(src)), finish, async_op)


def _same_layout(tensors: Sequence[Any], like: np.ndarray, caller: str, what: str) -> list:
    arrays = [_array(t, caller) for t in tensors]
    for i, a in enumerate(arrays):
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(
                f"{caller}: {what}[{i}] has shape {a.shape} and dtype {a.dtype}, expected "
                f"shape {like.shape} and dtype {like.dtype}"
            )
    return arrays


def _check_length(items: Sequence[Any], size: int, caller: str, what: str) -> None:
    if len(items) != size:
        raise ValueError(
            f"{caller}: {what} must hold one tensor per rank ({size}), got {len(items)}"
        )


def all_gather(
    tensor_list: list[Any], tensor: Any, group: Any = None, async_op: bool = False
) -> Work | None:
    """Fill `tensor_list[r]` with rank `r`'s `tensor`, on every rank."""
    comm = _check_group(group, "all_gather")
    arr = _array(tensor, "all_gather")
    _check_length(tensor_list, comm.Get_size(), "all_gather", "tensor_list")
    outs = _same_layout(tensor_list, arr, "all_gather", "tensor_list")
    gathered = np.empty((comm.Get_size(), *arr.shape), dtype=arr.dtype)

    def finish() -> None:
        for out, part in zip(outs, gathered, strict=True):
            out[...] = part

    call = comm.Iallgather if async_op else comm.Allgather
    return _run(call(_contiguous(arr), gathered), finish, async_op)


def reduce_scatter(
    output: Any,
    input_list: Sequence[Any],
    op: ReduceOp = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Reduce `input_list[r]` over all ranks with `op` into rank `r`'s `output`."""
    comm = _check_group(group, "reduce_scatter")
    arr = _array(output, "reduce_scatter")
    _check_length(input_list, comm.Get_size(), "reduce_scatter", "input_list")
    send = np.stack(_same_layout(input_list, arr, "reduce_scatter", "input_list"))
    buf = _contiguous(arr)
    mpi_op = _mpi_op(op, "reduce_scatter")
    finish = _finish_reduction(arr, buf, op, comm.Get_size())

    call = comm.Ireduce_scatter_block if async_op else comm.Reduce_scatter_block
    return _run(call(send, buf, op=mpi_op), finish, async_op)


def barrier(group: Any = None, async_op: bool = False) -> Work | None:
    """Wait until every rank has reached this call."""
    comm = _check_group(group, "barrier")
    return _run(comm.Ibarrier() if async_op else comm.Barrier(), lambda: None, async_op)


def all_gather_object(object_list: list[Any], obj: Any, group: Any = None) -> None:
    """Fill `object_list[r]` with rank `r`'s picklable `obj` (small metadata, not tensors).

    NOTE: objects travel pickled, so only use it between ranks of one trusted job.
    """
    comm = _check_group(group, "all_gather_object")
    _check_length(object_list, comm.Get_size(), "all_gather_object", "object_list")
    object_list[:] = comm.allgather(obj)
