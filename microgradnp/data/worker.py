"""Multi-process loading: worker processes fetch batches by index lists; the main process
hands out the work and returns the batches in order.

As in `torch.utils.data`: worker `i` of an iterator is seeded with `base_seed + i`, where
`base_seed` is drawn from the loader's generator (or the global one) when the workers start;
`get_worker_info()` tells code running in a worker who it is; an exception in a worker is
re-raised in the main process with the worker's traceback in its message; workers shut down
when the iterator is exhausted, deleted or fails (kept across epochs with
`persistent_workers=True`).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import random as mg_random
from .collate import default_collate, default_convert
from .dataset import _batch_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 1.0  # how often a waiting process checks that its peers are still alive
_JOIN_S = 1.0  # how long a busy worker may take to stop before it is terminated


@dataclass(frozen=True)
class WorkerInfo:
    """Who a worker process is: `id` in `[0, num_workers)`, its `seed`, and its copy of the
    `dataset` (useful to split an iterable source among workers)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The `WorkerInfo` of the current DataLoader worker process, or None in the main process.

    Example:
        >>> get_worker_info() is None
        True
    """
    return _worker_info


class _ExceptionWrapper:
    """An exception caught in a worker, with its formatted traceback, to re-raise elsewhere."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type if exc_type is not None else RuntimeError
        self.where = where
        self.text = "".join(traceback.format_exception(exc))

    def reraise(self) -> None:
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        try:
            exception = self.exc_type(message)
        except Exception:  # an exception type whose constructor wants other arguments
            raise RuntimeError(message) from None
        raise exception


class Fetcher:
    """Turns one entry of the index sampler into a batch: a list of indices is collated
    (or fetched at once from a data set with `_get_batch`); with auto-collation off, one index
    gives one converted sample."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable | None) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        use_fast_path = auto_collation and collate_fn is None
        self._fetch_batch = _batch_fetcher(dataset) if use_fast_path else None

    def __call__(self, index: Any) -> Any:
        if not self.auto_collation:
            sample = self.dataset[index]
            return default_convert(sample) if self.collate_fn is None else self.collate_fn(sample)
        if self._fetch_batch is not None:
            return self._fetch_batch(np.asarray(index, dtype=np.int64))
        collate = default_collate if self.collate_fn is None else self.collate_fn
        if isinstance(index, np.ndarray):
            index = index.tolist()  # Python ints, as a list-yielding batch sampler gives
        return collate([self.dataset[i] for i in index])


def _seed_worker(seed: int) -> None:
    mg_random.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global generator too, as PyTorch does


def _worker_loop(
    dataset: Any,
    auto_collation: bool,
    collate_fn: Callable | None,
    index_queue: Any,
    result_queue: Any,
    base_seed: int,
    worker_id: int,
    num_workers: int,
    worker_init_fn: Callable[[int], None] | None,
    parent_pid: int,
) -> None:
    """A worker: fetch `(epoch, idx, indices)` tasks until `None`; send back pickled batches
    (pickled here, so that a batch that cannot be sent becomes an error the caller sees)."""
    global _worker_info
    result_queue.cancel_join_thread()  # exiting never waits for the main process to read
    seed = base_seed + worker_id
    _seed_worker(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    where = f"in DataLoader worker process {worker_id}"
    init_error: _ExceptionWrapper | None = None
    try:
        fetch = Fetcher(dataset, auto_collation, collate_fn)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception:
        init_error = _ExceptionWrapper(where)
    while True:
        try:
            task = index_queue.get(timeout=_POLL_S)
        except queue.Empty:
            if os.getppid() != parent_pid:  # the main process died: stop
                return
            continue
        if task is None:
            return
        epoch, idx, indices = task
        payload: Any
        if init_error is not None:
            payload = init_error
        else:
            try:
                payload = pickle.dumps(fetch(indices), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = _ExceptionWrapper(where)
        result_queue.put((epoch, idx, payload))


def _context(multiprocessing_context: Any) -> Any:
    if multiprocessing_context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if isinstance(multiprocessing_context, str):
        return multiprocessing.get_context(multiprocessing_context)
    return multiprocessing_context


class MultiProcessIter:
    """The iterator of a `DataLoader` with `num_workers > 0`; see the module docstring."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader
        self._num_workers = int(loader.num_workers)
        self._capacity = int(loader.prefetch_factor) * self._num_workers
        self._timeout = float(loader.timeout)
        self._workers: list[Any] = []
        self._index_queues: list[Any] = []
        self._result_queue: Any = None
        self._shutdown = False
        self._epoch = 0
        self._reset()

    def _reset(self) -> None:
        """Start an epoch: a fresh pass over the sampler, the first tasks sent out."""
        self._epoch += 1
        self._sampler_iter = self._loader._index_batches()
        self._send_idx = self._rcvd_idx = 0
        self._pending: dict[int, int] = {}  # task index -> worker
        self._ready: dict[int, Any] = {}  # task index -> payload that arrived early
        self._next_worker = 0
        self._exhausted = False
        # Fix the epoch's first batches before drawing the workers' base seed, so that a
        # shuffled loader visits the same samples in the same order for any num_workers.
        first = []
        for _ in range(self._capacity):
            indices = next(self._sampler_iter, None)
            if indices is None:
                self._exhausted = True
                break
            first.append(indices)
        if not self._workers:
            self._start_workers()
        for indices in first:
            self._send(indices)

    def _start_workers(self) -> None:
        loader = self._loader
        rng = mg_random.default_generator() if loader.generator is None else loader.generator
        base_seed = int(rng.integers(2**62))
        context = _context(loader.multiprocessing_context)
        self._result_queue = context.Queue()
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            process = context.Process(
                target=_worker_loop,
                args=(
                    loader.dataset,
                    loader._auto_collation,
                    loader.collate_fn,
                    index_queue,
                    self._result_queue,
                    base_seed,
                    worker_id,
                    self._num_workers,
                    loader.worker_init_fn,
                    os.getpid(),
                ),
                daemon=True,
            )
            process.start()
            self._index_queues.append(index_queue)
            self._workers.append(process)

    def _send(self, indices: Any) -> None:
        worker = self._next_worker
        self._next_worker = (worker + 1) % self._num_workers
        self._index_queues[worker].put((self._epoch, self._send_idx, indices))
        self._pending[self._send_idx] = worker
        self._send_idx += 1

    def _refill(self) -> None:
        if not self._exhausted and len(self._pending) < self._capacity:
            indices = next(self._sampler_iter, None)
            if indices is None:
                self._exhausted = True
            else:
                self._send(indices)

    def __iter__(self) -> MultiProcessIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        while True:
            if self._rcvd_idx in self._ready:
                payload = self._ready.pop(self._rcvd_idx)
                del self._pending[self._rcvd_idx]
                self._rcvd_idx += 1
                self._refill()
                return self._unpack(payload)
            if self._rcvd_idx not in self._pending:  # every batch of the epoch was returned
                if not self._loader.persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            epoch, idx, payload = self._get()
            if epoch == self._epoch:  # results of an abandoned epoch are dropped
                self._ready[idx] = payload

    def _get(self) -> tuple[int, int, Any]:
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            try:
                return self._result_queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader timed out after {self._timeout:g} seconds")
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                self._shutdown_workers()
                detail = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                raise RuntimeError(f"DataLoader worker(s) exited unexpectedly ({detail})")

    def _unpack(self, payload: Any) -> Any:
        if isinstance(payload, _ExceptionWrapper):
            self._shutdown_workers()
            payload.reraise()
        return pickle.loads(payload)

    def _shutdown_workers(self) -> None:
        """Stop the workers (ask, then wait, then terminate) and close the queues."""
        if self._shutdown:
            return
        self._shutdown = True
        if getattr(self._loader, "_iterator", None) is self:
            self._loader._iterator = None
        for index_queue in self._index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):
                pass
        for process in self._workers:
            process.join(timeout=_JOIN_S)
            if process.is_alive():
                process.terminate()
                process.join()
        for q in [*self._index_queues, self._result_queue]:
            if q is not None:
                q.cancel_join_thread()
                q.close()

    def __del__(self) -> None:
        if hasattr(self, "_shutdown"):
            self._shutdown_workers()
