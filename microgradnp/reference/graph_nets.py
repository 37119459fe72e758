"""The article's two networks as microgradnp graphs, for autograd to differentiate.

Two builds of each network, both fed the same ``params`` dict as the hand-derived NumPy
versions (``sigmoid_net``, ``softmax_net``): one from raw Tensor operations
(``X @ W.T + b``, ``mg.sigmoid``, ``mg.log_softmax``), one from ``mg.nn.Sequential`` of
``mg.nn.Linear`` layers. ``tests/test_reference.py`` checks that autograd through either build
gives the hand-derived gradients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import nn
from ..creation import tensor
from ..dtypes import get_default_dtype, set_default_dtype
from ..ops import log, log_softmax, sigmoid
from .sigmoid_net import PARAM_NAMES, LossKind, Reduction, check_inputs

# Where each parameter sits in nn.Sequential(Linear(I, H), Sigmoid(), Linear(H, O), ...).
SEQUENTIAL_NAMES = {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias"}


def to_tensors(params: Mapping[str, np.ndarray], requires_grad: bool = True) -> dict[str, Any]:
    """Copy a NumPy parameter dict into leaf Tensors (dtype kept), ready for ``backward()``."""
    return {k: tensor(np.asarray(params[k]), requires_grad=requires_grad) for k in PARAM_NAMES}


def _scale(reduction: str, n: int) -> float:
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return 1.0 / n if reduction == "mean" else 1.0


def sigmoid_net_forward(params: Mapping[str, Any], X: Any) -> Any:
    """Network 1 from raw ops: ``sigmoid(sigmoid(X @ W1.T + b1) @ W2.T + b2)``, shape (N, O)."""
    A1 = sigmoid(X @ params["W1"].T + params["b1"])
    return sigmoid(A1 @ params["W2"].T + params["b2"])


def sigmoid_net_loss(
    params: Mapping[str, Any], X: Any, Y: Any, kind: LossKind = "bce", reduction: Reduction = "mean"
) -> Any:
    """Network 1's loss as a graph: BCE written as ``-(Y log A2 + (1 - Y) log(1 - A2))``.

    Written from the output probabilities on purpose (not from logits as ``sigmoid_net``
    does), so that the graph and the hand derivation share no formula.

    Example:
        >>> p = to_tensors({"W1": np.zeros((1, 1)), "b1": np.zeros(1),
        ...                 "W2": np.zeros((1, 1)), "b2": np.zeros(1)})
        >>> X, Y = tensor(np.ones((1, 1))), tensor(np.ones((1, 1)))
        >>> round(sigmoid_net_loss(p, X, Y).item(), 6)
        0.693147
    """
    A2 = sigmoid_net_forward(params, X)
    s = _scale(reduction, A2.numel())
    if kind == "bce":
        return -(Y * log(A2) + (1.0 - Y) * log(1.0 - A2)).sum() * s
    if kind == "mse":
        return ((A2 - Y) ** 2).sum() * s
    raise ValueError(f"kind must be 'bce' or 'mse', got {kind!r}")


def softmax_net_logits(params: Mapping[str, Any], X: Any) -> Any:
    """Network 2 from raw ops, up to the logits ``Z2`` (N, O)."""
    A1 = sigmoid(X @ params["W1"].T + params["b1"])
    return A1 @ params["W2"].T + params["b2"]


def softmax_net_loss(
    params: Mapping[str, Any], X: Any, T: Any, reduction: Reduction = "mean"
) -> Any:
    """Network 2's cross-entropy as a graph: ``-sum(T * log_softmax(Z2, dim=1)) * s``.

    ``T`` holds class probabilities (one-hot rows for class indices), shape (N, O).
    """
    Z2 = softmax_net_logits(params, X)
    return -(T * log_softmax(Z2, dim=1)).sum() * _scale(reduction, Z2.shape[0])


def _sequential(params: Mapping[str, np.ndarray], output_sigmoid: bool) -> Any:

    check_inputs(params, np.zeros((1, np.shape(params["W1"])[1])))
    (n_hidden, n_in), n_out = np.shape(params["W1"]), np.shape(params["W2"])[0]
    dtype = np.asarray(params["W1"]).dtype
    previous = get_default_dtype()
    set_default_dtype(dtype)  # so the layers are created in the parameters' dtype
    try:
        layers = [nn.Linear(n_in, n_hidden), nn.Sigmoid(), nn.Linear(n_hidden, n_out)]
        model = nn.Sequential(*layers, nn.Sigmoid()) if output_sigmoid else nn.Sequential(*layers)
    finally:
        set_default_dtype(previous)
    model.load_state_dict({SEQUENTIAL_NAMES[k]: np.array(params[k]) for k in PARAM_NAMES})
    got = {name: p.dtype for name, p in model.named_parameters()}
    if any(np.dtype(d) != dtype for d in got.values()):
        raise TypeError(f"Sequential parameters have dtypes {got}, expected {dtype}")
    return model


def sigmoid_net_sequential(params: Mapping[str, np.ndarray]) -> Any:
    """Network 1 as ``Sequential(Linear(I, H), Sigmoid(), Linear(H, O), Sigmoid())``,
    holding a copy of ``params`` (``W1`` becomes ``"0.weight"``, see ``SEQUENTIAL_NAMES``)."""
    return _sequential(params, output_sigmoid=True)


def softmax_net_sequential(params: Mapping[str, np.ndarray]) -> Any:
    """Network 2 up to its logits, ``Sequential(Linear(I, H), Sigmoid(), Linear(H, O))``;
    pair it with ``nn.CrossEntropyLoss``, which applies the (log-)softmax itself."""
    return _sequential(params, output_sigmoid=False)
