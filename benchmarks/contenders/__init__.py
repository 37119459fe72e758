"""The contenders, in table order: the hand-written NumPy floor first, then microgradnp,
then the peers. A contender whose framework is not installed (or not usable here) is
skipped with a note.

Example::

    >>> contenders, notes = load(["numpy"])
    >>> [c.name for c in contenders]
    ['NumPy (hand)']
"""

from __future__ import annotations

import importlib

from benchmarks.contenders.base import Contender

#: key -> (module, class)
REGISTRY: dict[str, tuple[str, str]] = {
    "numpy": ("hand_numpy", "HandNumpy"),
    "microgradnp": ("mgnp", "Microgradnp"),
    "microgradnp-raw": ("mgnp", "MicrogradnpRaw"),
    "microgradnp-compiled": ("mgnp", "MicrogradnpCompiled"),
    "microgradnp-raw-compiled": ("mgnp", "MicrogradnpRawCompiled"),
    "torch": ("peer_torch", "PyTorch"),
    "autograd": ("peer_autograd", "HIPSAutograd"),
    "mygrad": ("peer_mygrad", "MyGrad"),
    "dezero": ("peer_dezero", "DeZero"),
    "tinygrad": ("peer_tinygrad", "Tinygrad"),
    "tinygrad-jit": ("peer_tinygrad", "TinygradJit"),
    "micrograd": ("peer_micrograd", "Micrograd"),
}


def load(keys: list[str] | None = None) -> tuple[list[Contender], list[str]]:
    """Instantiate the requested contenders (all by default; the floor always).

    Returns the contenders that loaded and one note per contender that did not.
    """
    unknown = sorted(set(keys or []) - set(REGISTRY))
    if unknown:
        raise ValueError(f"unknown contender(s) {unknown}; choose from {sorted(REGISTRY)}")
    wanted = ["numpy"] + [k for k in REGISTRY if k != "numpy" and (keys is None or k in keys)]
    contenders, notes = [], []
    for key in wanted:
        module, cls = REGISTRY[key]
        try:
            mod = importlib.import_module(f"benchmarks.contenders.{module}")
            contenders.append(getattr(mod, cls)())
        except Exception as e:  # missing package, missing compiler, broken import
            notes.append(f"{key}: skipped ({type(e).__name__}: {e})")
    return contenders, notes
