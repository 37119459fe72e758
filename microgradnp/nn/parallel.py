"""`DistributedDataParallel`: one model replica per rank, gradients averaged in backward.

Each rank runs forward and backward on its own shard of the batch. As backward accumulates
each parameter's `.grad` (`Tensor.register_post_accumulate_grad_hook`), the parameter is
marked ready; parameters are grouped into buckets of up to `bucket_cap_mb` in reverse
registration order (roughly the order backward reaches them), and a full bucket is copied
into a flat buffer and sent to a non-blocking MPI allreduce at once. When the last bucket is
launched, all are awaited and the averages written back into `.grad`, so the gradients are
the same on every rank when `backward()` returns, before `optimizer.step()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import numpy as np

from .. import distributed as dist
from ..autograd import is_grad_enabled
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["DistributedDataParallel"]


def _grad(param: Parameter) -> np.ndarray:
    if param.grad is None:  # only reachable if a hook removed it
        raise RuntimeError(f"a parameter of shape {param.shape} lost its gradient in backward")
    return param.grad.data


class _Bucket:
    """Parameters of one dtype whose gradients travel together in one flat buffer."""

    def __init__(self, dtype: np.dtype) -> None:
        self.params: list[Parameter] = []
        self.offsets: list[int] = [0]
        self.dtype = dtype
        self.flat = np.empty(0, dtype=dtype)
        self.pending = 0
        self.work: Any = None

    @property
    def nbytes(self) -> int:
        return self.offsets[-1] * self.dtype.itemsize

    def add(self, param: Parameter) -> None:
        self.params.append(param)
        self.offsets.append(self.offsets[-1] + param.data.size)

    def launch(self) -> None:
        """Copy the gradients into the flat buffer and start the non-blocking allreduce."""
        if self.flat.size != self.offsets[-1]:
            self.flat = np.empty(self.offsets[-1], dtype=self.dtype)
        for param, (start, stop) in zip(self.params, pairwise(self.offsets), strict=True):
            self.flat[start:stop] = _grad(param).reshape(-1)
        self.work = dist.all_reduce(self.flat, dist.ReduceOp.AVG, async_op=True)

    def finish(self) -> None:
        """Wait for the allreduce and write the averaged gradients back into `.grad`."""
        self.work.wait()
        self.work = None
        for param, (start, stop) in zip(self.params, pairwise(self.offsets), strict=True):
            _grad(param)[...] = self.flat[start:stop].reshape(param.data.shape)


def _check_same_parameters(module: Module) -> None:
    """Raise on every rank when any rank's parameters differ in name, shape or dtype."""
    meta = [(name, p.shape, str(p.dtype)) for name, p in module.named_parameters()]
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, meta)
    reference = everyone[0]
    for rank, theirs in enumerate(everyone[1:], start=1):
        for (name0, shape0, dtype0), (name, shape, dtype) in zip(reference, theirs, strict=False):
            if (name0, shape0, dtype0) != (name, shape, dtype):  # counts are checked below
                raise ValueError(
                    f"DistributedDataParallel: models differ across ranks: parameter "
                    f"{name0!r} has shape {shape0} and dtype {dtype0} on rank 0, but rank "
                    f"{rank} has {name!r} with shape {shape} and dtype {dtype}"
                )
        if len(theirs) != len(reference):
            raise ValueError(
                f"DistributedDataParallel: models differ across ranks: rank 0 has "
                f"{len(reference)} parameters, rank {rank} has {len(theirs)}"
            )


class DistributedDataParallel(Module):
    """Data-parallel training: wrap the model, then train as usual on each rank's shard.

    At construction rank 0's parameters and buffers are copied to every rank (after
    checking that all ranks hold the same parameter shapes and dtypes). Each backward
    averages the gradients over the ranks, bucket by bucket. Under `no_sync()` gradients
    only accumulate locally; the next synchronised backward averages the accumulated `.grad`.
    With `broadcast_buffers=True` (the default) every forward first copies rank 0's buffers
    (e.g. running statistics) to all ranks. `state_dict()` keys carry the `module.` prefix,
    as in PyTorch; `.module` is the wrapped model.

    NOTE: every parameter that requires grad must receive a gradient in every synchronised
    backward (PyTorch's default `find_unused_parameters=False`); otherwise the next forward
    raises, naming the parameters that received none.

    Args:
        module: the model (the same architecture on every rank).
        broadcast_buffers: copy rank 0's buffers to all ranks at each forward.
        bucket_cap_mb: the most megabytes (MiB) of gradients per allreduce.

    Example:
        >>> import microgradnp as mg
        >>> mg.distributed.init_process_group("mpi")
        >>> ddp = mg.nn.parallel.DistributedDataParallel(mg.nn.Linear(3, 2))
        >>> ddp(mg.ones(4, 3)).sum().backward()
        >>> list(ddp.state_dict()), ddp.module.weight.grad.tolist()[0]
        (['module.weight', 'module.bias'], [4.0, 4.0, 4.0])
        >>> mg.distributed.destroy_process_group()
    """

    def __init__(
        self, module: Module, *, broadcast_buffers: bool = True, bucket_cap_mb: float = 25
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel wraps an nn.Module, got {type(module).__name__}"
            )
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: call mg.distributed.init_process_group('mpi') first"
            )
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True
        _check_same_parameters(module)
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor, src=0)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = self._make_buckets(int(bucket_cap_mb * 2**20))
        self._bucket_of = {id(p): bucket for bucket in self._buckets for p in bucket.params}
        self._expecting = False  # a synchronised backward is due (set by forward)
        self._next_bucket = 0
        self._ready: set[int] = set()
        for p in self._params:
            p.register_post_accumulate_grad_hook(self._mark_ready)

    def _make_buckets(self, cap_bytes: int) -> list[_Bucket]:
        buckets: list[_Bucket] = []
        open_by_dtype: dict[np.dtype, _Bucket] = {}
        for p in reversed(self._params):
            bucket = open_by_dtype.get(p.dtype)
            if bucket is None or (bucket.params and bucket.nbytes + p.data.nbytes > cap_bytes):
                bucket = open_by_dtype[p.dtype] = _Bucket(p.dtype)
                buckets.append(bucket)
            bucket.add(p)
        return buckets

    def _start_iteration(self) -> None:
        if self._ready:  # a backward began to reduce but some parameters got no gradient
            names = [
                name
                for name, p in self.module.named_parameters()
                if p.requires_grad and id(p) not in self._ready
            ]
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished reduction in the prior "
                f"iteration before starting a new one; these parameters received no gradient "
                f"in backward: {names}. Every parameter that requires grad must take part in "
                "the loss on every rank (or set requires_grad=False on the unused ones)"
            )
        for bucket in self._buckets:
            bucket.pending = len(bucket.params)
        self._next_bucket = 0
        self._expecting = self.require_backward_grad_sync and is_grad_enabled()

    def _mark_ready(self, param: Tensor) -> None:
        if not self._expecting:
            return  # no_sync(), or a backward not preceded by a forward of this wrapper
        if id(param) in self._ready:
            raise RuntimeError(
                f"DistributedDataParallel: a parameter of shape {param.shape} received its "
                "gradient twice in one iteration; call the model once per backward"
            )
        self._ready.add(id(param))
        self._bucket_of[id(param)].pending -= 1
        # Launch strictly in bucket order, so that every rank issues the same sequence of
        # collectives even if backward reaches the parameters in another order.
        while (
            self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0
        ):
            self._buckets[self._next_bucket].launch()
            self._next_bucket += 1
        if self._next_bucket == len(self._buckets):
            for bucket in self._buckets:
                bucket.finish()
            self._expecting = False
            self._ready.clear()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Apply the layer (see the class docstring for the computation)."""
        self._start_iteration()
        if self.broadcast_buffers:
            for buf in self.module.buffers():
                dist.broadcast(buf, src=0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context, backward accumulates gradients locally without averaging."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
