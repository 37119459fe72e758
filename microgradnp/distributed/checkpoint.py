"""Checkpoints in a data-parallel job: one rank writes, every rank waits for the file."""

from __future__ import annotations

import os
from typing import Any

from ..serialization import save
from .collectives import barrier
from .process_group import get_rank, is_initialized

__all__ = ["save_checkpoint"]


def save_checkpoint(obj: Any, path: str | os.PathLike[str], src: int = 0) -> None:
    """Write `obj` with `mg.save` on rank `src` only; the others wait until it is written.

    Every rank calls it (it ends in a barrier), so that no rank reads a half-written file.
    Outside a process group it is `mg.save`. Save `ddp.module.state_dict()` to get keys
    without the `module.` prefix, loadable into the bare model.

    Example:
        >>> import os, tempfile
        >>> import microgradnp as mg
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> mg.distributed.save_checkpoint(mg.nn.Linear(2, 1).state_dict(), path)
        >>> sorted(mg.load(path))
        ['bias', 'weight']
    """
    if not is_initialized():
        save(obj, path)
        return
    if get_rank() == src:
        save(obj, path)
    barrier()
