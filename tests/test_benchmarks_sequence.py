"""The sequence benchmarks' NumPy floors agree with PyTorch and microgradnp (small shapes)."""

from __future__ import annotations

import pytest

from benchmarks import sequence


@pytest.mark.parametrize("workload", sorted(sequence.WORKLOADS))
def test_floor_matches_torch_and_microgradnp(torch, workload):
    errors = sequence.check(sequence._contenders(workload, small=True), tol=1e-4)
    assert set(errors) == {"NumPy (hand)", "microgradnp", "PyTorch"}
    assert max(errors.values()) < 1e-4
