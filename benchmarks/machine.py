"""The machine, the versions and the thread settings a run is recorded with.

Example::

    >>> info = machine_info()
    >>> sorted(k for k in info if k in ("cpu", "cores", "python"))
    ['cores', 'cpu', 'python']
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

#: environment variables that change BLAS or threading behaviour; recorded with each run
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUM_CPU_THREADS",
    "DEV",
    "CACHELEVEL",
)

_saved: dict = {}  # what apply_threads changed, for restore_threads


def prepare_threads(n: int) -> None:
    """Before any framework is imported: thread count for those read from the environment."""
    if "NUM_CPU_THREADS" not in os.environ:  # tinygrad's CPU backend
        os.environ["NUM_CPU_THREADS"] = str(n)
        _saved["env"] = "NUM_CPU_THREADS"


def apply_threads(n: int) -> list[str]:
    """After the frameworks are imported: limit BLAS/OpenMP pools and PyTorch to ``n``."""
    notes = []
    try:
        from threadpoolctl import threadpool_limits

        _saved["limits"] = threadpool_limits(limits=n)
    except ImportError:
        notes.append("threadpoolctl missing: BLAS threads not limited (pip install threadpoolctl)")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        _saved["torch"] = torch.get_num_threads()
        torch.set_num_threads(n)
    return notes


def restore_threads() -> None:
    """Undo :func:`prepare_threads` and :func:`apply_threads` (for in-process callers)."""
    if "limits" in _saved:
        _saved.pop("limits").restore_original_limits()
    if "torch" in _saved:
        sys.modules["torch"].set_num_threads(_saved.pop("torch"))
    if "env" in _saved:
        os.environ.pop(_saved.pop("env"), None)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries (kernel, version, threads)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = (
        "user_api",
        "internal_api",
        "version",
        "architecture",
        "threading_layer",
        "num_threads",
        "prefix",
    )
    return [{k: d[k] for k in keys if k in d} for d in threadpool_info()]


def machine_info() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
    }
