"""Integer arithmetic of the quantized layers, on ndarrays.

Weights are int8, symmetric, one scale per output channel: `w ~ scale[o] * q[o, ...]` with
q in [-127, 127]. Activations are uint8, affine, one scale and zero point per tensor:
`x ~ scale * (q - zero_point)` with q in [0, 255] and 0.0 exactly representable. A layer
multiplies the centred activation codes (q - zero_point, in [-255, 255]) by the weight codes
and accumulates in integers, then rescales once: `y = s_x * s_w[o] * acc[o] + b[o]`.

NumPy has no int8 GEMM, and its integer matmul does not use BLAS (it is some 50x slower), so
the integer accumulation runs in a floating GEMM on integer-valued operands. That is exact
(each partial sum is an integer below 2**24 in float32, or 2**53 in float64, chosen from the
reduction length), so the result equals an int32 accumulation bit for bit; the tests check
this against an explicit int32 product.

Example:
    >>> import numpy as np
    >>> q, s = quantize_weight(np.array([[0.5, -1.0], [0.02, 0.004]], dtype=np.float32))
    >>> q.tolist(), [round(float(v), 5) for v in s * 127]
    ([[64, -127], [127, 25]], [1.0, 0.02])
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "choose_qparams",
    "exact_dtype",
    "fake_quantize",
    "int_linear",
    "quantize_activation",
    "quantize_weight",
]

QMIN, QMAX = 0, 255  # activation codes (quint8)
WMAX = 127  # weight codes lie in [-WMAX, WMAX] (qint8, symmetric)
_EPS = float(np.finfo(np.float32).eps)


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 codes and float32 scales of a weight (O, ...)."""
    w = np.asarray(w, dtype=np.float32)
    amax = np.abs(w.reshape(len(w), -1)).max(axis=1) if w.size else np.zeros(len(w))
    scale = np.maximum(amax / WMAX, _EPS).astype(np.float32)
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / scale.reshape(shape)), -WMAX, WMAX).astype(np.int8)
    return q, scale


def choose_qparams(min_val: float, max_val: float) -> tuple[float, int]:
    """Scale and zero point of uint8 codes covering [min(min_val, 0), max(max_val, 0)]
    (PyTorch's affine rule: zero_point = -round(min / scale), clipped to [0, 255])."""
    if not (np.isfinite(min_val) and np.isfinite(max_val)):
        raise ValueError(
            f"cannot choose quantization parameters from the range [{min_val}, {max_val}]: "
            "was the observer run on any data?"
        )
    lo, hi = min(float(min_val), 0.0), max(float(max_val), 0.0)
    scale = max((hi - lo) / (QMAX - QMIN), _EPS)
    zero_point = int(np.clip(QMIN - np.round(lo / scale), QMIN, QMAX))
    return float(np.float32(scale)), zero_point


def quantize_activation(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """uint8 codes of x: clip(round(x / scale) + zero_point, 0, 255)."""
    q = np.round(np.asarray(x, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, QMIN, QMAX).astype(np.uint8)


def fake_quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """x rounded to the nearest value its uint8 codes can hold (quantize, then dequantize)."""
    q = quantize_activation(x, scale, zero_point).astype(np.float32)
    return (q - zero_point) * np.float32(scale)


def exact_dtype(reduction: int) -> type:
    """The float type in which a sum of `reduction` products of codes is exact."""
    return np.float32 if reduction * (QMAX - QMIN) * WMAX < 2**24 else np.float64


def int_linear(xc: np.ndarray, wq: np.ndarray) -> np.ndarray:
    """int32 accumulation xc @ wq.T of centred activation codes (..., K) and int8 weights
    (O, K), returned as int32."""
    ft = exact_dtype(wq.shape[1])
    return np.matmul(xc.astype(ft), wq.astype(ft).T).astype(np.int32)
