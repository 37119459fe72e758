"""Transformer blocks: `TransformerEncoderLayer` and `TransformerDecoderLayer`, and their
stacks `TransformerEncoder` and `TransformerDecoder`.

Built from `MultiheadAttention`, `Linear`, `LayerNorm` and `Dropout` with PyTorch's
sub-module names, so a PyTorch layer's `state_dict` loads by key. Post-norm by default
(x = norm(x + block(x))), pre-norm with `norm_first=True` (x = x + block(norm(x))).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .. import ops
from ..tensor import Tensor
from .activation_functions import gelu
from .attention import MultiheadAttention
from .containers import ModuleList
from .layers import Dropout, LayerNorm, Linear
from .module import Module


def _activation(activation: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    if callable(activation):
        return activation
    if activation == "relu":
        return ops.relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"activation should be relu/gelu, not {activation!r}")


class _TransformerLayer(Module):
    """Constructor and blocks shared by the encoder and decoder layers; a decoder layer
    (`_cross_attention`) adds `multihead_attn` and a third norm and dropout."""

    _cross_attention = False

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Any], Any] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = {"dropout": dropout, "bias": bias, "batch_first": batch_first, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, **kw)
        if self._cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        n_blocks = 3 if self._cross_attention else 2
        for i in range(1, n_blocks + 1):
            setattr(
                self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            )
        for i in range(1, n_blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Any:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Any:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x) if self._cross_attention else self.dropout2(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block, each with residual, dropout and LayerNorm.

    Sub-modules (PyTorch's names): `self_attn`, `linear1`, `dropout`, `linear2`, `norm1`,
    `norm2`, `dropout1`, `dropout2`. `forward(src, src_mask=None, src_key_padding_mask=None,
    is_causal=False)`; masks as in `MultiheadAttention`.

    Example:
        >>> import microgradnp as mg
        >>> layer = mg.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        >>> layer(mg.randn(2, 5, 16)).shape
        (2, 5, 16)
    """

    def forward(
        self,
        src: Tensor,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over the encoder's output (`memory`), then feed-forward,
    each with residual, dropout and LayerNorm.

    Sub-modules (PyTorch's names): `self_attn`, `multihead_attn`, `linear1`, `dropout`,
    `linear2`, `norm1`, `norm2`, `norm3`, `dropout1`, `dropout2`, `dropout3`.
    `forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)`.

    Example:
        >>> import microgradnp as mg
        >>> layer = mg.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32)
        >>> tgt, memory = mg.randn(3, 2, 16), mg.randn(7, 2, 16)
        >>> layer(tgt, memory).shape
        (3, 2, 16)
    """

    _cross_attention = True

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(
                x
                + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            )
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(
        self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> Any:
        x = self.multihead_attn(
            x,
            mem,
            mem,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(x)


def _clones(layer: Module, n: int) -> ModuleList:
    # independent copies, as PyTorch's _get_clones (each starts from the same weights)
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """A stack of `num_layers` copies of `encoder_layer`, then an optional final `norm`.

    Keys `layers.{i}.…` and `norm.…`, as PyTorch. `forward(src, mask=None,
    src_key_padding_mask=None, is_causal=None)` passes the masks to every layer.
    (`enable_nested_tensor` and `mask_check` are accepted for compatibility; they only
    select PyTorch's inference fast paths.)

    Example:
        >>> import microgradnp as mg
        >>> layer = mg.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
        >>> encoder = mg.nn.TransformerEncoder(layer, num_layers=2, norm=mg.nn.LayerNorm(16))
        >>> encoder(mg.randn(5, 2, 16)).shape, len(encoder.layers)
        ((5, 2, 16), 2)
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: Tensor,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        x = src
        for layer in self.layers:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """A stack of `num_layers` copies of `decoder_layer`, then an optional final `norm`.

    Keys `layers.{i}.…` and `norm.…`, as PyTorch. `forward(tgt, memory, tgt_mask=None,
    memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=None, memory_is_causal=False)` passes the masks to every layer.

    Example:
        >>> import microgradnp as mg
        >>> layer = mg.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        >>> decoder = mg.nn.TransformerDecoder(layer, num_layers=3)
        >>> decoder(mg.randn(2, 5, 16), mg.randn(2, 7, 16)).shape
        (2, 5, 16)
    """

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        x = tgt
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)
