"""A GPT: a decoder-only transformer language model (GPT-2's layout, nanoGPT's names).

Token and position embeddings, `n_layer` pre-norm blocks (LayerNorm -> causal
self-attention -> residual, LayerNorm -> GELU MLP -> residual), a final LayerNorm and an
output head that shares its weight with the token embedding. The `state_dict` keys are
nanoGPT's (`transformer.wte.weight`, `transformer.h.0.attn.c_attn.weight`, ...), so the same
model written in PyTorch loads these weights by key. Generation keeps a key/value cache, so
n new tokens cost n one-token forward steps.

It lives in the package (`mg.models.gpt`) rather than in `examples/` so that the training
and sampling scripts, the tests against PyTorch and the benchmark all import one definition,
and users can `from microgradnp.models.gpt import GPT` without copying a script.

Example:
    >>> import microgradnp as mg
    >>> from microgradnp.models.gpt import GPT, GPTConfig
    >>> _ = mg.manual_seed(0)
    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8))
    >>> model(mg.tensor([[1, 2, 3]])).shape, model.num_parameters()
    ((1, 3, 10), 1032)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nn, ops
from ..autograd import no_grad
from ..primitive import raw
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["GPT", "GPTConfig", "KVCache", "gelu_tanh", "sample_logits"]


@dataclass
class GPTConfig:
    """Sizes of a GPT. `n_embd` must be divisible by `n_head`.

    Example:
        >>> GPTConfig(vocab_size=68).n_embd
        128
    """

    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True


def gelu_tanh(x: Any) -> Any:
    """GELU with the tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    The same function as PyTorch's `F.gelu(x, approximate="tanh")`; a composite of public ops
    until `mg.nn.GELU(approximate="tanh")` exists, which this will then call.

    Example:
        >>> import microgradnp as mg
        >>> [round(v, 4) for v in gelu_tanh(mg.tensor([-1.0, 0.0, 2.0])).tolist()]
        [-0.1588, 0.0, 1.9546]
    """
    # 0.5 (1 + tanh(u)) = sigmoid(2u), so GELU = x sigmoid(2u) with
    # 2u = x (2 sqrt(2/pi) + 2 sqrt(2/pi) 0.044715 x^2): four multiplications instead of six
    return x * ops.sigmoid(x * (_GELU_C1 * (x * x) + _GELU_C0))


_GELU_C0 = 2.0 * math.sqrt(2.0 / math.pi)
_GELU_C1 = _GELU_C0 * 0.044715


class KVCache:
    """Keys and values of the tokens seen so far, per layer, for incremental decoding.

    Preallocated for `max_len` positions, shape (batch, n_head, max_len, head_dim) per layer;
    `length` positions are filled. A forward step with the cache writes the new tokens' keys
    and values after the filled ones and attends to all of them. Holds plain arrays: use it
    under `mg.no_grad()` (generation), not for training.
    """

    def __init__(
        self, n_layer: int, batch: int, n_head: int, max_len: int, head_dim: int, dtype: Any
    ) -> None:
        shape = (batch, n_head, max_len, head_dim)
        self.keys = [np.zeros(shape, dtype) for _ in range(n_layer)]
        self.values = [np.zeros(shape, dtype) for _ in range(n_layer)]
        self.max_len = max_len
        self.length = 0

    def update(self, layer: int, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store the new keys/values (B, nh, T, hs) after the filled positions; return views
        of all keys and values so far."""
        end = self.length + k.shape[2]
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees only positions <= t.

    Written out (q, k, v from one projection `c_attn`, scores scaled by 1/sqrt(head_dim),
    the causal mask, softmax, dropout, output projection `c_proj`); it will switch to
    `F.scaled_dot_product_attention(q, k, v, is_causal=True)` once that exists.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(
                f"GPT: n_embd ({config.n_embd}) must be divisible by n_head ({config.n_head})"
            )
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # mask[i, j]: may query position i attend to key position j (j <= i)
        self._mask = np.tril(np.ones((config.block_size, config.block_size), dtype=bool))
        self._mask_bias: dict[np.dtype, np.ndarray] = {}  # 0 where allowed, -inf elsewhere

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        batch, steps, channels = x.shape
        head_dim = channels // self.n_head
        q, k, v = ops.split(self.c_attn(x), channels, dim=2)
        # (B, T, C) -> (B, nh, T, hs)
        q, k, v = (
            ops.transpose(ops.reshape(t, (batch, steps, self.n_head, head_dim)), 1, 2)
            for t in (q, k, v)
        )
        past = 0
        if cache is not None:
            past = cache.length
            keys, values = cache.update(layer, raw(k), raw(v))
            k, v = Tensor._wrap(keys), Tensor._wrap(values)
        # scores = q k^T / sqrt(hs); scaling q costs half as much as scaling the scores
        scores = (q * (1.0 / math.sqrt(head_dim))) @ ops.transpose(k, -2, -1)
        # The causal mask as an additive constant (masked_fill(~mask, -inf) in PyTorch: an
        # add's gradient passes straight through, where where() would build two masked
        # copies). Queries are positions past .. past+T-1, keys 0 .. past+T-1.
        dtype = raw(scores).dtype
        if dtype not in self._mask_bias:
            self._mask_bias[dtype] = np.where(self._mask, 0.0, -np.inf).astype(dtype)
        scores = scores + self._mask_bias[dtype][past : past + steps, : past + steps]
        att = self.attn_dropout(ops.softmax(scores, dim=-1))
        y = ops.reshape(ops.transpose(att @ v, 1, 2), (batch, steps, channels))
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Linear(C, 4C) -> GELU (tanh approximation) -> Linear(4C, C) -> dropout."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        # gelu_tanh becomes nn.GELU(approximate="tanh") once that layer exists
        return self.dropout(self.c_proj(gelu_tanh(self.c_fc(x))))


class Block(nn.Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x)): a pre-norm transformer block."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A GPT language model: ids (B, T) -> next-token logits (B, T, vocab_size).

    Initialised as GPT-2 (and nanoGPT): weights of linear layers and embeddings from
    N(0, 0.02^2), biases zero, the residual projections (`c_proj`) from
    N(0, (0.02 / sqrt(2 n_layer))^2); LayerNorms at scale 1, shift 0. `lm_head.weight` is
    `transformer.wte.weight` (weight tying): one parameter, listed once by `parameters()`
    and under both keys by `state_dict()`, as in PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> _ = mg.manual_seed(0)
        >>> model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4))
        >>> model.lm_head.weight is model.transformer.wte.weight
        True
        >>> out = model.generate(mg.tensor([[1, 2]]), 3, generator=np.random.default_rng(0))
        >>> out.shape
        (1, 5)
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, config.n_embd),
                "wpe": nn.Embedding(config.block_size, config.n_embd),
                "drop": nn.Dropout(config.dropout),
                "h": nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                "ln_f": nn.LayerNorm(config.n_embd, bias=config.bias),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying
        self._init_weights()

    def _init_weights(self) -> None:
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                std = residual_std if name.endswith("c_proj") else 0.02
                nn.init.normal_(module.weight, 0.0, std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, 0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """The number of parameters (the tied head counted once); with `non_embedding`,
        without the position embeddings (GPT-2's convention for model size)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def make_cache(self, batch_size: int) -> KVCache:
        """An empty key/value cache for `batch_size` sequences of up to `block_size` tokens."""
        c = self.config
        dtype = raw(self.transformer.wte.weight).dtype
        return KVCache(c.n_layer, batch_size, c.n_head, c.block_size, c.n_embd // c.n_head, dtype)

    def forward(self, idx: Any, cache: KVCache | None = None) -> Tensor:
        """Logits (B, T, vocab_size) for ids (B, T). With `cache`, `idx` continues the
        sequences whose keys and values the cache holds, and the cache grows by T."""
        ids = np.asarray(raw(idx))
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(
                f"GPT: expected integer ids of shape (B, T), got {ids.dtype} {ids.shape}"
            )
        past = 0 if cache is None else cache.length
        steps = ids.shape[1]
        if past + steps > self.config.block_size:
            raise ValueError(
                f"GPT: {past + steps} positions ({past} cached + {steps} new) exceed "
                f"block_size={self.config.block_size}"
            )
        tr = self.transformer
        x = tr.drop(tr.wte(ids) + tr.wpe(np.arange(past, past + steps)))
        for layer, block in enumerate(tr.h):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += steps
        return self.lm_head(tr.ln_f(x))

    @no_grad()
    def generate_stream(
        self,
        idx: Any,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: np.random.Generator | None = None,
        use_cache: bool = True,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield `(next_ids, logits)` for each new token: ids of shape (B,), the logits
        (B, vocab_size) they were sampled from.

        The context is the tokens since the window start. When it would exceed
        `block_size`, the window restarts at the last `block_size // 2` tokens (with the
        cache, one forward pass over them refills it), so n tokens cost n one-token steps
        plus one refill every `block_size // 2` tokens. `use_cache=False` recomputes the same
        context from scratch at every step: the same logits, at O(T) cost per token.
        """
        tokens = np.asarray(raw(idx), dtype=np.int64)
        if tokens.ndim != 2 or tokens.shape[1] == 0:
            raise ValueError(
                f"generate: idx must have shape (B, T) with T >= 1, got {tokens.shape}"
            )
        block = self.config.block_size
        start = max(0, tokens.shape[1] - block)
        cache = None
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                if not use_cache:
                    logits = self(tokens[:, start:])
                elif cache is None:
                    cache = self.make_cache(len(tokens))
                    logits = self(tokens[:, start:], cache)
                else:
                    logits = self(tokens[:, -1:], cache)
                last = raw(logits)[:, -1, :]
                next_ids = sample_logits(last, temperature, top_k, generator)
                tokens = np.concatenate([tokens, next_ids[:, None]], axis=1)
                if tokens.shape[1] - start > block:
                    start = tokens.shape[1] - max(1, block // 2)
                    cache = None
                yield next_ids, last
        finally:
            self.train(was_training)

    def generate(self, idx: Any, max_new_tokens: int, **kwargs: Any) -> np.ndarray:
        """`idx` (B, T) followed by `max_new_tokens` sampled ids, shape (B, T + n); keyword
        arguments as `generate_stream` (temperature, top_k, generator, use_cache)."""
        new = [ids for ids, _ in self.generate_stream(idx, max_new_tokens, **kwargs)]
        prompt = np.asarray(raw(idx), dtype=np.int64)
        return np.concatenate([prompt, np.stack(new, axis=1)], axis=1) if new else prompt


def sample_logits(
    logits: Any,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw one id per row of `logits` (B, V) from softmax(logits / temperature), keeping
    only the `top_k` largest logits when given; `temperature=0` takes the argmax.

    Draws from `generator`, by default the one `mg.manual_seed` seeds. Written with NumPy
    until `mg.topk` and `mg.multinomial` exist, which it will then call.

    Example:
        >>> sample_logits(np.array([[0.0, 5.0, 1.0]]), temperature=0).tolist()
        [1]
        >>> sample_logits(np.array([[0.0, 5.0, 1.0]]), top_k=1,
        ...               generator=np.random.default_rng(0)).tolist()
        [1]
    """
    z = np.asarray(raw(logits), dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"sample_logits: logits must have shape (B, V), got {z.shape}")
    if temperature < 0:
        raise ValueError(f"sample_logits: temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return z.argmax(axis=1)
    z = z / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"sample_logits: top_k must be >= 1, got {top_k}")
        k = min(top_k, z.shape[1])
        kth = np.partition(z, -k, axis=1)[:, -k, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    gen = default_generator() if generator is None else generator
    # inverse-CDF sampling: one uniform draw per row
    u = gen.random((len(p), 1))
    ids = (np.cumsum(p, axis=1) < u).sum(axis=1)
    # rounding can leave u above the last cumulative sum: fall back to the last id allowed
    last_allowed = p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1)
    return np.minimum(ids, last_allowed)
