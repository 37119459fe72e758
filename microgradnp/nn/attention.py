"""Attention: `scaled_dot_product_attention` (re-exported by `F`) and `MultiheadAttention`.

Both are composites of matmul, softmax, masked_fill and dropout, so their gradients (of
any order) come from those ops. Masks follow PyTorch: in `scaled_dot_product_attention` a
bool mask is True where a position TAKES PART; in `MultiheadAttention` a bool `attn_mask`
or `key_padding_mask` is True where a position is IGNORED. Float masks are added to the
attention scores in both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..compile.hooks import not_replayable
from ..ops.tensor_ops import masked_fill
from ..primitive import raw
from ..tensor import Tensor
from . import init
from .dropout_functions import dropout
from .layers import Linear, _empty
from .module import Module


def _check_float_or_bool(mask: Any, who: str) -> np.dtype:
    dtype = np.asarray(raw(mask)).dtype
    if dtype != np.bool_ and dtype.kind != "f":
        raise TypeError(f"{who}: a mask must be bool or floating point, got dtype {dtype}")
    return dtype


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, over the last two dims.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev) (batch dims broadcast).
        attn_mask: bool (True = takes part) or float (added to the scores), broadcastable
            to (..., L, S).
        dropout_p: dropout on the attention weights (always applied when > 0, as PyTorch).
        is_causal: mask out keys after each query (the upper triangle); not with attn_mask.
        scale: defaults to 1 / sqrt(E).

    Example:
        >>> import microgradnp as mg
        >>> q = k = v = mg.ones(2, 4, 3, 8)
        >>> mg.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 4, 3, 8)
    """
    qs, ks, vs = (np.shape(raw(t)) for t in (query, key, value))
    if len(qs) < 2 or len(ks) < 2 or len(vs) < 2:
        raise ValueError(
            f"scaled_dot_product_attention: query, key and value need at least 2 dims, got "
            f"shapes {qs}, {ks} and {vs}"
        )
    if qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: query {qs}, key {ks} and value {vs} do not match: "
            f"expected (..., L, E), (..., S, E) and (..., S, Ev)"
        )
    if is_causal and attn_mask is not None:
        raise ValueError(
            "scaled_dot_product_attention: give either attn_mask or is_causal=True, not both"
        )
    length, source = qs[-2], ks[-2]
    scale = 1.0 / math.sqrt(qs[-1]) if scale is None else scale
    scores = ops.matmul(query, ops.transpose(key, -2, -1)) * scale
    if is_causal:
        keep = np.tril(np.ones((length, source), dtype=bool))
        scores = masked_fill(scores, ~keep, -math.inf)
    elif attn_mask is not None:
        not_replayable(_MASKED)
        if _check_float_or_bool(attn_mask, "scaled_dot_product_attention") == np.bool_:
            scores = masked_fill(scores, ~np.asarray(raw(attn_mask)), -math.inf)
        else:
            scores = scores + attn_mask
    masked = is_causal or attn_mask is not None
    weights = _safe_softmax(scores) if masked else ops.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return ops.matmul(weights, value)


# A mask from the data is turned into -inf scores by NumPy, and rows masked entirely are
# found from the values: mg.compile cannot replay either (a compiled function falls back)
_MASKED = "attention with attn_mask or key_padding_mask (NumPy on the mask's values)"


def _safe_softmax(scores: Any) -> Any:
    """Softmax over the last dim that gives 0 (not NaN) on rows masked entirely, as
    PyTorch's attention does; their gradient is 0 too."""
    dead = np.all(np.isneginf(raw(scores)), axis=-1, keepdims=True)
    if not dead.any():
        return ops.softmax(scores, -1)
    dead_rows = np.broadcast_to(dead, raw(scores).shape)
    # a finite row first, so that neither the softmax nor its VJP meets -inf - -inf
    weights = ops.softmax(masked_fill(scores, dead_rows, 0.0), -1)
    return masked_fill(weights, dead_rows, 0.0)


def _additive(mask: Any, dtype: np.dtype, who: str) -> Any:
    """A float mask to add to the scores: a bool mask becomes -inf where True (ignored)."""
    if _check_float_or_bool(mask, who) == np.bool_:
        return np.where(np.asarray(raw(mask)), -np.inf, 0.0).astype(dtype)
    return mask


class NonDynamicallyQuantizableLinear(Linear):
    """`Linear` under PyTorch's name for the output projection of `MultiheadAttention`."""


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.), with PyTorch's parameters and masks.

    Parameters: `in_proj_weight` (3E, E) and `in_proj_bias` (3E,) for the query, key and
    value projections (or `q_proj_weight`, `k_proj_weight`, `v_proj_weight` when `kdim` or
    `vdim` differ from E), and `out_proj` (a Linear E -> E). Initialised as PyTorch:
    Xavier-uniform projections, zero biases.

    `forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)` takes (L, N, E) inputs ((N, L, E) with
    `batch_first=True`, or unbatched (L, E)) and returns `(output, weights)`, the weights
    (N, L, S) averaged over heads (or (N, H, L, S)), or None unless `need_weights`. Bool
    masks are True where a position is ignored; float masks are added to the scores.
    `attn_mask` is (L, S) or (N * num_heads, L, S); `key_padding_mask` is (N, S).
    `is_causal` is a hint that `attn_mask` is the causal mask (which must then be given).
    A query whose keys are all masked gets NaN with `need_weights=True` and 0 without, as
    in PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> mha = mg.nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = mg.randn(2, 5, 16)
        >>> out, w = mha(x, x, x)
        >>> out.shape, w.shape, sorted(mha.state_dict())
        ((2, 5, 16), (2, 5, 5), ['in_proj_bias', 'in_proj_weight', 'out_proj.bias', \
'out_proj.weight'])
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads, got {embed_dim} and {num_heads}"
            )
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError(
                "MultiheadAttention: add_bias_kv and add_zero_attn are not supported"
            )
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _empty(3 * embed_dim, embed_dim, dtype=dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = _empty(embed_dim, embed_dim, dtype=dtype)
            self.k_proj_weight = _empty(embed_dim, self.kdim, dtype=dtype)
            self.v_proj_weight = _empty(embed_dim, self.vdim, dtype=dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = _empty(3 * embed_dim, dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, dtype=dtype
        )
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self, query: Any, key: Any, value: Any) -> tuple[Any, Any, Any]:
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e : 2 * e], w[2 * e :]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return ops.linear(query, wq, bq), ops.linear(key, wk, bk), ops.linear(value, wv, bv)

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Apply the layer (see the class docstring for the computation)."""
        qs, ks, vs = (np.shape(raw(t)) for t in (query, key, value))
        batched = len(qs) == 3
        if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs):
            raise ValueError(
                f"MultiheadAttention: query, key and value must all be 3-D (batched) or 2-D "
                f"(unbatched), got shapes {qs}, {ks} and {vs}"
            )
        if qs[-1] != self.embed_dim or ks[-1] != self.kdim or vs[-1] != self.vdim:
            raise ValueError(
                f"MultiheadAttention: expected last dims {self.embed_dim} (query), "
                f"{self.kdim} (key) and {self.vdim} (value), got shapes {qs}, {ks} and {vs}"
            )
        if ks[:-1] != vs[:-1]:
            raise ValueError(f"MultiheadAttention: key {ks} and value {vs} shapes do not match")
        if is_causal and attn_mask is None:
            raise ValueError(
                "MultiheadAttention: is_causal is a hint that attn_mask is the causal mask; "
                "give attn_mask too (e.g. an upper-triangular bool mask)"
            )
        if not batched:  # one sequence: a batch of one, removed again at the end
            query, key, value = (ops.unsqueeze(t, 1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(raw(key_padding_mask))[None]
        elif self.batch_first:
            # work in (L, N, E) as PyTorch does; the permutes cost no copies
            query, key, value = (ops.transpose(t, 0, 1) for t in (query, key, value))
        length, batch, _ = np.shape(raw(query))
        source = np.shape(raw(key))[0]
        heads, hd = self.num_heads, self.head_dim
        if attn_mask is not None or key_padding_mask is not None:
            not_replayable(_MASKED)
        mask = self._merged_mask(attn_mask, key_padding_mask, raw(query).dtype, batch, length)

        q, k, v = self._projections(query, key, value)
        # (L, N, E) -> (N, H, L, hd)
        q = ops.permute(ops.reshape(q, (length, batch, heads, hd)), (1, 2, 0, 3))
        k = ops.permute(ops.reshape(k, (source, batch, heads, hd)), (1, 2, 3, 0))
        v = ops.permute(ops.reshape(v, (source, batch, heads, hd)), (1, 2, 0, 3))
        scores = ops.matmul(q, k) * (1.0 / math.sqrt(hd))
        if mask is not None:
            scores = scores + mask
        # PyTorch's two paths differ on rows masked entirely: NaN when the weights are
        # returned, 0 (its fused attention) when they are not
        safe = mask is not None and not need_weights
        weights = _safe_softmax(scores) if safe else ops.softmax(scores, -1)
        if self.training and self.dropout > 0.0:
            weights = dropout(weights, self.dropout, training=True)
        out = ops.matmul(weights, v)  # (N, H, L, hd)
        # back to (N, L, E) for batch_first, else (L, N, E)
        out = ops.permute(out, (0, 2, 1, 3) if batched and self.batch_first else (2, 0, 1, 3))
        out = ops.linear(
            ops.reshape(out, np.shape(raw(out))[:2] + (self.embed_dim,)),
            self.out_proj.weight,
            self.out_proj.bias,
        )
        if not batched:
            out = ops.squeeze(out, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, dim=1)
        if not batched:
            weights = ops.squeeze(weights, 0)
        return out, weights

    def _merged_mask(
        self, attn_mask: Any, key_padding_mask: Any, dtype: np.dtype, batch: int, length: int
    ) -> Any:
        """attn_mask and key_padding_mask as one float mask broadcastable to (N, H, L, S)."""
        who = "MultiheadAttention"
        mask = None
        if attn_mask is not None:
            mask = _additive(attn_mask, dtype, who)
            shape = np.shape(raw(mask))
            if len(shape) == 3:
                if shape[0] != batch * self.num_heads:
                    raise ValueError(
                        f"{who}: a 3-D attn_mask must have shape (N * num_heads, L, S) = "
                        f"({batch * self.num_heads}, {length}, S), got {shape}"
                    )
                mask = ops.reshape(mask, (batch, self.num_heads) + shape[1:])
            elif len(shape) != 2:
                raise ValueError(f"{who}: attn_mask must be 2-D or 3-D, got shape {shape}")
        if key_padding_mask is not None:
            kpm = _additive(key_padding_mask, dtype, who)
            shape = np.shape(raw(kpm))
            if len(shape) != 2 or shape[0] != batch:
                raise ValueError(
                    f"{who}: key_padding_mask must have shape (N, S) with N={batch}, got {shape}"
                )
            kpm = ops.reshape(kpm, (shape[0], 1, 1, shape[1]))
            mask = kpm if mask is None else mask + kpm
        return mask
