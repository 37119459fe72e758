"""Dtypes and the default floating dtype (float32, as in PyTorch).

Python floats and lists become the default dtype; NumPy arrays keep theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001 - PyTorch's name
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_default = [float32]


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype given to Python floats and float factories (float32 or float64)."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dt}")
    _default[0] = dt


def get_default_dtype() -> np.dtype:
    """The current default floating dtype."""
    return _default[0]
