"""The process group: one MPI job, its rank and size, and the job-wide abort on errors.

`init_process_group(backend="mpi")` binds `mg.distributed` to `MPI.COMM_WORLD` of the job
that `mpiexec -n N python script.py` started, and installs an exception hook that aborts
every rank (`MPI_Abort`) when one of them dies of an uncaught exception, so the others never
hang in a collective. Collectives live in `collectives.py`; `mpi4py` is imported lazily.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType
from typing import Any

__all__ = [
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
]

_INSTALL_HINT = (
    "mg.distributed needs mpi4py and an MPI runtime; install them with "
    "`pip install 'microgradnp[dist]'` (or `pip install mpi4py mpich`)"
)


class _World:
    """The state of this process's group: the communicator and the hook it replaced."""

    comm: Any = None
    previous_excepthook: Any = None


def mpi() -> Any:
    """The `mpi4py.MPI` module, imported on first use, with an install hint if missing."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return MPI


def is_available() -> bool:
    """Whether `mpi4py` can be imported (PyTorch's `torch.distributed.is_available`).

    Example:
        >>> import microgradnp as mg
        >>> isinstance(mg.distributed.is_available(), bool)
        True
    """
    try:
        mpi()
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    """Whether `init_process_group` has been called (and not undone).

    Example:
        >>> import microgradnp as mg
        >>> mg.distributed.is_initialized()
        False
    """
    return _World.comm is not None


def world_comm(caller: str) -> Any:
    """The communicator of the default group; a clear error before `init_process_group`."""
    if _World.comm is None:
        raise RuntimeError(
            f"{caller}: default process group has not been initialized, please make sure to "
            "call init_process_group (and launch with `mpiexec -n N python script.py`)"
        )
    return _World.comm


def _abort_on_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    comm = _World.comm
    rank = comm.Get_rank() if comm is not None else "?"
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(
        f"{text}[rank {rank}] uncaught {exc_type.__name__}: {exc}\n"
        f"[rank {rank}] aborting the MPI job so that the other ranks do not wait forever\n"
    )
    sys.stderr.flush()
    if comm is None:  # destroyed meanwhile: behave as the interpreter would
        sys.__excepthook__(exc_type, exc, tb)
        return
    comm.Abort(1)


def init_process_group(
    backend: str = "mpi",
    init_method: str | None = None,
    world_size: int = -1,
    rank: int = -1,
) -> None:
    """Join the MPI job as one rank of the default process group.

    Only the "mpi" backend exists: ranks and world size come from the launcher
    (`mpiexec -n N python script.py`); `world_size` and `rank`, when given, are checked
    against it. A plain `python script.py` is a job of one rank. An uncaught exception on
    any rank then aborts the whole job, naming the rank and the error.

    Args:
        backend: "mpi".
        init_method: unused by MPI; accepted as `None` or "env://" for PyTorch scripts.
        world_size, rank: the expected size and rank (-1: take the launcher's).

    Example:
        >>> import microgradnp as mg
        >>> dist = mg.distributed
        >>> dist.init_process_group(backend="mpi")  # a job of one rank here
        >>> dist.get_rank(), dist.get_world_size()
        (0, 1)
        >>> dist.destroy_process_group()
    """
    if backend != "mpi":
        raise ValueError(
            f"init_process_group: backend {backend!r} is not supported; microgradnp "
            "communicates through MPI, use backend='mpi'"
        )
    if init_method not in (None, "env://"):
        raise ValueError(
            f"init_process_group: init_method {init_method!r} is not used by the MPI backend "
            "(the launcher connects the ranks); leave it None"
        )
    if _World.comm is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    comm = mpi().COMM_WORLD
    for name, wanted, actual in (
        ("world_size", world_size, comm.Get_size()),
        ("rank", rank, comm.Get_rank()),
    ):
        if wanted != -1 and wanted != actual:
            raise ValueError(
                f"init_process_group: {name}={wanted} was asked for, but the MPI launcher "
                f"gave {name} {actual}"
            )
    _World.comm = comm
    _World.previous_excepthook = sys.excepthook
    sys.excepthook = _abort_on_exception


def destroy_process_group() -> None:
    """Leave the default group and restore the previous exception hook.

    MPI itself stays up (mpi4py finalizes it at exit), so a script may initialise again.
    """
    world_comm("destroy_process_group")
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _World.previous_excepthook
    _World.comm = None
    _World.previous_excepthook = None


def get_rank() -> int:
    """This process's rank, 0 to `get_world_size() - 1`."""
    return int(world_comm("get_rank").Get_rank())


def get_world_size() -> int:
    """The number of ranks in the job."""
    return int(world_comm("get_world_size").Get_size())
