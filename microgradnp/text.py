"""Character-level text: a tokenizer, a block data set, a held-out split and n-gram baselines.

What a character language model needs between a string and a batch of integer ids:
`CharTokenizer` (vocabulary from a training text, `encode`/`decode`, an `<unk>` id for
characters it has not seen), `CharBlockDataset` (every window of `block_size` characters
with the next character at each position as its target), `split_tail` (a held-out tail) and
`NgramCharModel` (unigram and bigram models with add-one smoothing: the baselines a neural
model must beat). It is a module of its own, `mg.text`, because none of this is generic
data loading (`mg.data`) or a bundled data set (`mg.datasets.load_text` supplies the
strings).

Example:
    >>> import microgradnp as mg
    >>> tok = mg.text.CharTokenizer("hello world")
    >>> ids = tok.encode("hold!")
    >>> ids.tolist(), tok.decode(ids)
    ([4, 6, 5, 2, 0], 'hold\ufffd')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .data import Dataset
from .primitive import raw
from .random import default_generator
from .tensor import Tensor

__all__ = ["CharBlockDataset", "CharTokenizer", "NgramCharModel", "split_tail"]

UNK = "<unk>"


class CharTokenizer:
    """Characters <-> integer ids, with the vocabulary taken from a training text.

    Id 0 is `<unk>`; the distinct characters of `text`, sorted by code point, get ids
    1, 2, ... Unknown characters policy: `encode` maps a character that is not in the
    vocabulary to the `<unk>` id (or raises `ValueError` naming it when `strict=True`), and
    `decode` writes `<unk>` as U+FFFD, the Unicode replacement character.

    Args:
        text: the training text (its characters form the vocabulary), or an iterable of
            characters (the saved `chars` of another tokenizer).

    Example:
        >>> tok = CharTokenizer("abca")
        >>> tok.vocab_size, tok.chars, tok.encode("cab").tolist()
        (4, 'abc', [3, 1, 2])
    """

    unk_id = 0

    def __init__(self, text: str | Iterable[str]) -> None:
        chars = sorted(set(text))
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise TypeError("CharTokenizer: the vocabulary must be made of single characters")
        self.chars = "".join(chars)
        self.itos = [UNK, *chars]
        self.stoi = {c: i for i, c in enumerate(self.itos) if i != self.unk_id}

    @property
    def vocab_size(self) -> int:
        """The number of ids, `<unk>` included."""
        return len(self.itos)

    def encode(self, text: str, *, strict: bool = False) -> np.ndarray:
        """The int64 ids of the characters of `text` (unknown ones -> `unk_id`)."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got {type(text).__name__}")
        get = self.stoi.get
        ids = [get(c, -1) for c in text]
        if -1 in ids:
            missing = sorted({c for c in text if c not in self.stoi})
            if strict:
                raise ValueError(
                    f"CharTokenizer.encode: characters not in the vocabulary: {missing!r}"
                )
            ids = [self.unk_id if i < 0 else i for i in ids]
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """The string of the ids (a list, an ndarray or a tensor of any shape, read flat)."""
        arr = np.asarray(raw(ids)).reshape(-1)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"CharTokenizer.decode: ids must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"CharTokenizer.decode: ids must lie in [0, {self.vocab_size}), got values "
                f"from {arr.min()} to {arr.max()}"
            )
        return "".join("\ufffd" if i == self.unk_id else self.itos[i] for i in arr.tolist())

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def split_tail(ids: Any, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split a sequence into a training head and a held-out tail of `val_fraction` of it.

    A tail rather than a random sample: a random choice of windows would put text the model
    trained on into the validation set (overlapping windows), so the tail is the honest test.

    Example:
        >>> head, tail = split_tail(np.arange(10), 0.2)
        >>> head.tolist(), tail.tolist()
        ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    arr = np.asarray(raw(ids))
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"split_tail: val_fraction must lie in (0, 1), got {val_fraction}")
    n_val = int(round(len(arr) * val_fraction))
    if n_val < 2 or len(arr) - n_val < 2:
        raise ValueError(
            f"split_tail: {len(arr)} ids with val_fraction={val_fraction} leave {n_val} for "
            f"validation; both parts need at least 2"
        )
    return arr[: len(arr) - n_val], arr[len(arr) - n_val :]


class CharBlockDataset(Dataset):
    """Windows of `block_size` ids and, at each position, the id that follows.

    Sample `i` is `(context, target) = (ids[i : i + block_size], ids[i + 1 : i + block_size
    + 1])`, both int64 of shape (block_size,): the model predicts `target[t]` from
    `context[: t + 1]`. `get_batch` draws a random batch (nanoGPT's sampler: windows drawn
    with replacement), `DataLoader` iterates over all windows.

    Example:
        >>> ds = CharBlockDataset(np.arange(6), block_size=3)
        >>> len(ds), [a.tolist() for a in ds[1]]
        (3, [[1, 2, 3], [2, 3, 4]])
    """

    def __init__(self, ids: Any, block_size: int) -> None:
        self.ids = np.asarray(raw(ids), dtype=np.int64).reshape(-1)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"CharBlockDataset: block_size must be an int >= 1, got {block_size}")
        if len(self.ids) <= block_size:
            raise ValueError(
                f"CharBlockDataset: {len(self.ids)} ids are too few for block_size={block_size}"
                f" (need at least block_size + 1)"
            )
        self.block_size = block_size
        self._offsets = np.arange(block_size)

    def __len__(self) -> int:
        return len(self.ids) - self.block_size

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"CharBlockDataset: index {index} out of range for {n} windows")
        start = index % n
        window = self.ids[start : start + self.block_size + 1]
        return window[:-1], window[1:]

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        rows = np.asarray(indices)[:, None] + self._offsets
        return Tensor._wrap(self.ids[rows]), Tensor._wrap(self.ids[rows + 1])

    def get_batch(
        self, batch_size: int, generator: np.random.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """`batch_size` windows drawn uniformly with replacement, as int64 tensors of shape
        (batch_size, block_size); from `generator` or the one `mg.manual_seed` seeds."""
        gen = default_generator() if generator is None else generator
        return self._get_batch(gen.integers(0, len(self), size=batch_size))


class NgramCharModel:
    """A character n-gram model (unigram: `order=1`, bigram: `order=2`) with add-k smoothing.

    Fitted by counting: `P(c | previous) = (count(previous, c) + k) / (count(previous) + k V)`
    over a vocabulary of `V = vocab_size` ids (add-one smoothing is `k = 1`, the default), so
    every id, seen or not, has a probability above zero. `count(previous)` counts the
    n-grams that start with `previous`, so each row sums to one.

    Example:
        >>> bigram = NgramCharModel(order=2, vocab_size=3).fit([0, 1, 0, 1, 2])
        >>> np.exp(bigram.log_probs([0, 1])).round(3).tolist()  # after 0, after 1
        [[0.2, 0.6, 0.2], [0.4, 0.2, 0.4]]
    """

    def __init__(self, order: int, vocab_size: int, smoothing: float = 1.0) -> None:
        if order not in (1, 2):
            raise ValueError(
                f"NgramCharModel: order must be 1 (unigram) or 2 (bigram), got {order}"
            )
        if vocab_size < 1 or smoothing <= 0:
            raise ValueError(
                f"NgramCharModel: need vocab_size >= 1 and smoothing > 0, got {vocab_size} and "
                f"{smoothing}"
            )
        self.order, self.vocab_size, self.smoothing = order, vocab_size, float(smoothing)
        self.counts: np.ndarray | None = None

    def fit(self, ids: Any) -> NgramCharModel:
        """Count the n-grams of the training ids; returns self."""
        arr = self._ids(ids)
        v = self.vocab_size
        if self.order == 1:
            self.counts = np.bincount(arr, minlength=v).astype(np.float64)
        else:
            pairs = arr[:-1] * v + arr[1:]
            self.counts = np.bincount(pairs, minlength=v * v).reshape(v, v).astype(np.float64)
        return self

    def log_probs(self, context: Any) -> np.ndarray:
        """Natural-log probabilities of the next id, shape (n, vocab_size), one row per
        entry of `context` (the previous id; a unigram ignores its value)."""
        if self.counts is None:
            raise RuntimeError("NgramCharModel: call fit(ids) before log_probs")
        prev = self._ids(context)
        table = self.counts + self.smoothing
        table = np.log(table) - np.log(table.sum(axis=-1, keepdims=True))
        return (
            np.broadcast_to(table, (len(prev), self.vocab_size)) if self.order == 1 else table[prev]
        )

    def _ids(self, ids: Any) -> np.ndarray:
        arr = np.asarray(raw(ids)).reshape(-1)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"NgramCharModel: ids must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"NgramCharModel: ids must lie in [0, {self.vocab_size}), got values from "
                f"{arr.min()} to {arr.max()}"
            )
        return arr.astype(np.int64)

    def __repr__(self) -> str:
        return f"NgramCharModel(order={self.order}, vocab_size={self.vocab_size})"
