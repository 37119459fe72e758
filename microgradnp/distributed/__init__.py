"""`mg.distributed`: data-parallel training over MPI, with `torch.distributed`'s names.

Launch N copies of a script with `mpiexec -n N python script.py`; each calls
`init_process_group(backend="mpi")` and then uses the collectives below, or wraps its model
in `mg.nn.parallel.DistributedDataParallel`. Needs the `dist` extra (mpi4py and an MPI).

Example:
    >>> import microgradnp as mg
    >>> dist = mg.distributed
    >>> dist.init_process_group(backend="mpi")
    >>> t = mg.tensor([float(dist.get_rank() + 1)])
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)
    >>> t.tolist()  # the sum over one rank
    [1.0]
    >>> dist.destroy_process_group()
"""

from .checkpoint import save_checkpoint
from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    reduce_scatter,
)
from .process_group import (
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "reduce_scatter",
    "save_checkpoint",
]
