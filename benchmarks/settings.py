"""How long and how wide a run is: the full run and ``--quick``.

Example::

    >>> Settings.quick().rounds < Settings.full().rounds
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

WORKLOADS = ("train", "deep", "infer", "hvp", "ops", "chain", "memory")


@dataclass
class Settings:
    rounds: int = 15  # timed rounds per workload
    target_s: float = 0.05  # length of one timed sample (calls are repeated to fill it)
    train_sizes: list[str] = field(default_factory=lambda: ["tiny", "small", "medium", "large"])
    infer_sizes: list[str] = field(default_factory=lambda: ["small", "medium", "large"])
    memory_sizes: list[str] = field(default_factory=lambda: ["medium", "large"])
    chain_ns: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    chain_rounds: int = 3
    #: longest chain for the slower peers (microgradnp, PyTorch and the floor run them all)
    chain_peer_max_n: int = 100_000
    #: training sizes micrograd runs at, and its rounds there (seconds per step at small)
    micrograd_sizes: list[str] = field(default_factory=lambda: ["tiny", "small"])
    micrograd_rounds: dict[str, int] = field(default_factory=lambda: {"small": 3})
    #: workloads tinygrad runs (each new shape costs seconds of kernel compilation)
    tinygrad_workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    is_quick: bool = False

    @classmethod
    def full(cls) -> Settings:
        return cls()

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            rounds=5,
            target_s=0.005,
            infer_sizes=["small", "medium"],
            memory_sizes=["medium"],
            chain_ns=[2_000, 6_000, 20_000],
            chain_rounds=2,
            micrograd_sizes=["tiny"],
            tinygrad_workloads=["train"],
            is_quick=True,
        )

    def as_dict(self) -> dict:
        return asdict(self)
