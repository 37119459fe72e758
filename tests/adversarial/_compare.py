"""Run the same call in microgradnp and PyTorch: both refuse, or both give the same numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import microgradnp as mg

# What a refusal may raise (PyTorch raises RuntimeError where we raise ValueError).
REFUSALS = (ValueError, IndexError, TypeError, RuntimeError)


def _numbers(result: Any) -> list[np.ndarray]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    out = []
    for item in items:
        if hasattr(item, "detach"):
            item = item.detach()
        out.append(np.asarray(item.numpy() if hasattr(item, "numpy") else item))
    return out


def same_as_torch(ours: Any, theirs: Any, words: tuple[str, ...] = ()) -> str:
    """Call both; return 'refused' or 'matched' (and fail the test on any disagreement).

    A refusal of ours must not be a bare NumPy error: its message must contain every word of
    `words` (the op's name, say)."""
    try:
        expected = theirs()
    except Exception:  # noqa: BLE001 - PyTorch refuses: so must we
        with pytest.raises(REFUSALS) as info:
            ours()
        message = str(info.value)
        for word in words:
            assert word in message, f"error {message!r} does not name {word!r}"
        return "refused"
    got = ours()
    for a, b in zip(_numbers(got), _numbers(expected), strict=True):
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-6)
    return "matched"


def mg_and_torch(torch: Any, data: np.ndarray) -> tuple[Any, Any]:
    return mg.tensor(data), torch.tensor(data)
