"""`DistributedSampler`: each rank's share of a data set's indices, as `torch.utils.data`.

Every rank builds the same (optionally shuffled, seeded by `seed + epoch`) order of all
indices, pads it by repeating its start (or trims it, with `drop_last`) to a multiple of the
number of ranks, and takes every `num_replicas`-th index from its rank on, so the ranks'
shares are disjoint, equally long, and together cover the data set each epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of `dataset` that rank `rank` of `num_replicas` visits this epoch.

    PyTorch's partition and padding rules: with `drop_last=False` each rank gets
    `ceil(N / num_replicas)` indices (the order padded with its own first indices), with
    `drop_last=True` `floor(N / num_replicas)` (the tail trimmed). The shuffle comes from
    NumPy's generator seeded with `seed + epoch`, so the orders differ from PyTorch's; call
    `set_epoch(epoch)` before each epoch for a new order.

    Args:
        dataset: anything with `len()`.
        num_replicas: by default the process group's world size.
        rank: by default this process's rank.
        shuffle: permute the indices each epoch (the same permutation on every rank).
        seed: base seed of the shuffle; must be the same on every rank.
        drop_last: trim the order instead of padding it.

    Example:
        >>> sampler = DistributedSampler(range(10), num_replicas=4, rank=1, shuffle=False)
        >>> len(sampler), list(sampler)  # 10 indices padded to 12: 0..9, 0, 1
        (3, [1, 5, 9])
        >>> from microgradnp.data import DataLoader
        >>> loader = DataLoader(range(10), batch_size=2, sampler=sampler)
        >>> [batch.tolist() for batch in loader]  # call sampler.set_epoch(e) each epoch
        [[1, 5], [9]]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from .. import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas and rank, or call "
                    "mg.distributed.init_process_group('mpi') first"
                )
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # Trim so that every rank gets the same number of samples.
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            # Pad with the order's own start, repeated as often as needed (tiny data sets).
            order = np.resize(order, self.total_size)
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle of epoch `epoch` (call it on every rank before each epoch)."""
        self.epoch = int(epoch)
