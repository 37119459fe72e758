"""Character-level text: the bundled text, `mg.text` (tokenizer, block data set, held-out
split, n-gram baselines), the language-model metrics, and the GPT example scripts."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import metrics
from microgradnp.text import CharBlockDataset, CharTokenizer, NgramCharModel, split_tail

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "gpt"


def test_load_text_is_lady_susan():
    text = mg.datasets.load_text("lady_susan")
    assert len(text) == 127_431 and len(set(text)) == 67
    assert text.startswith("***The Project Gutenberg Etext of Lady Susan, by Jane Austen***")
    assert "LADY SUSAN VERNON TO MR. VERNON" in text
    assert text.rstrip().endswith(
        "End of The Project Gutenberg Etext of Lady Susan, by Jane Austen"
    )
    with pytest.raises(ValueError, match="unknown text 'emma'; known texts: 'lady_susan'"):
        mg.datasets.load_text("emma")


def test_tokenizer_round_trip_and_unknown_characters():
    tok = CharTokenizer("banana band")
    assert tok.itos == ["<unk>", " ", "a", "b", "d", "n"] and tok.vocab_size == 6
    ids = tok.encode("band")
    assert ids.dtype == np.int64 and ids.tolist() == [3, 2, 5, 4]
    assert tok.decode(ids) == "band" and tok.decode(mg.tensor(ids)) == "band"
    assert tok.encode("bay!").tolist() == [3, 2, 0, 0]  # unseen -> <unk>, id 0
    assert tok.decode([3, 0]) == "b\ufffd"
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['!', 'y'\]"):
        tok.encode("bay!", strict=True)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 6\)"):
        tok.decode([6])
    assert CharTokenizer(tok.chars).itos == tok.itos  # rebuilt from its saved characters
    text = mg.datasets.load_text("lady_susan")
    full = CharTokenizer(text)
    assert full.decode(full.encode(text)) == text


def test_block_dataset_windows_and_batches():
    ds = CharBlockDataset(np.arange(10), block_size=4)
    assert len(ds) == 6
    x, y = ds[5]
    assert x.tolist() == [5, 6, 7, 8] and y.tolist() == [6, 7, 8, 9]
    assert ds[-1][0].tolist() == [5, 6, 7, 8]
    with pytest.raises(IndexError):
        ds[6]
    xb, yb = ds.get_batch(64, np.random.default_rng(0))
    assert xb.shape == yb.shape == (64, 4) and xb.dtype == np.int64
    assert np.all(yb.numpy() == xb.numpy() + 1)  # the next character at every position
    assert xb.numpy()[:, 0].min() == 0 and xb.numpy()[:, 0].max() == 5  # every start drawn
    loader = mg.data.DataLoader(ds, batch_size=4)
    batches = [xb.numpy()[:, 0].tolist() for xb, _ in loader]
    assert batches == [[0, 1, 2, 3], [4, 5]]
    with pytest.raises(ValueError, match="too few for block_size=10"):
        CharBlockDataset(np.arange(10), 10)


def test_split_tail():
    head, tail = split_tail(np.arange(100), 0.1)
    assert head.tolist() == list(range(90)) and tail.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="val_fraction must lie in"):
        split_tail(np.arange(10), 1.0)


def test_ngram_baselines_by_hand():
    # "abab" + "c": ids a=1, b=2, c=3 with <unk>=0, V=4
    train = [1, 2, 1, 2, 3]
    uni = NgramCharModel(1, 4).fit(train)
    # counts (0, 2, 2, 1) + 1 over 5 + 4
    np.testing.assert_allclose(np.exp(uni.log_probs([0, 3]))[0], [1 / 9, 3 / 9, 3 / 9, 2 / 9])
    bi = NgramCharModel(2, 4).fit(train)
    # after a: a->b twice; after b: b->a once, b->c once; after c: nothing
    p = np.exp(bi.log_probs([1, 2, 3]))
    np.testing.assert_allclose(p[0], [1 / 6, 1 / 6, 3 / 6, 1 / 6])
    np.testing.assert_allclose(p[1], [1 / 6, 2 / 6, 1 / 6, 2 / 6])
    np.testing.assert_allclose(p[2], [1 / 4] * 4)
    # perplexity of the bigram on "abc" (targets b, c after a, b): exp(-(log 3/6 + log 2/6)/2)
    val = np.array([1, 2, 3])
    ppl = metrics.perplexity(val[1:], bi.log_probs(val[:-1]))
    assert ppl == pytest.approx(math.exp(-(math.log(3 / 6) + math.log(2 / 6)) / 2))
    with pytest.raises(RuntimeError, match="call fit"):
        NgramCharModel(2, 4).log_probs([1])
    with pytest.raises(ValueError, match="order must be 1"):
        NgramCharModel(3, 4)


def test_bits_per_char_by_hand():
    assert metrics.bits_per_char(math.log(2.0)) == pytest.approx(1.0)
    assert metrics.bits_per_char([0.0, 2 * math.log(2.0)]) == pytest.approx(1.0)  # mean loss
    # probabilities 1/2 and 1/8 of the right characters: (1 + 3) / 2 = 2 bits
    logp = np.log(np.array([[0.5, 0.5], [0.875, 0.125]]))
    assert metrics.bits_per_char([0, 1], logp) == pytest.approx(2.0)
    assert metrics.perplexity([0, 1], logp) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="cannot be negative"):
        metrics.bits_per_char(-1.0)


def test_top_k_accuracy_by_hand_and_against_scikit_learn():
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]])
    true = np.array([2, 1, 0, 0])
    assert metrics.top_k_accuracy(true, scores, k=1) == 0.0
    assert metrics.top_k_accuracy(true, scores, k=2) == 0.5  # rows 0 and 1
    assert metrics.top_k_accuracy(true, scores, k=3) == 1.0
    assert metrics.top_k_accuracy(true[:2], scores[:2], k=1) == 0.0
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 5, 200), rng.integers(0, 3, (200, 5)).astype(float)  # many ties
    for k in (1, 2, 3):
        expected = sklearn.top_k_accuracy_score(y, s, k=k, labels=range(5))
        assert metrics.top_k_accuracy(y, s, k=k) == pytest.approx(expected)
    # any leading shape: (batch, time, vocab)
    seq = rng.normal(size=(2, 3, 4))
    assert metrics.top_k_accuracy(seq.argmax(-1), seq, k=1) == 1.0
    with pytest.raises(ValueError, match=r"y_true.shape \+ \(n_classes,\)"):
        metrics.top_k_accuracy(true, scores[:3])
    with pytest.raises(ValueError, match="k must be a positive int"):
        metrics.top_k_accuracy(true, scores, k=0)


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"gpt_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scored_windows_score_every_position_once():
    windows = _example("train").scored_windows
    for n, block in [(5, 4), (9, 8), (10, 4), (17, 8), (1000, 64)]:
        scored = [t for s, first in windows(n, block) for t in range(s + 1 + first, s + 1 + block)]
        assert scored == list(range(1, n))


def test_train_writes_metrics_resumes_and_samples(tmp_path, capsys):
    pytest.importorskip("safetensors")
    train = _example("train")
    data = tmp_path / "tiny.txt"
    data.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    out = tmp_path / "run"
    common = [
        "--data",
        str(data),
        "--out",
        str(out),
        "--no-progress",
        "--block-size",
        "16",
        "--n-layer",
        "1",
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--batch-size",
        "8",
        "--eval-interval",
        "20",
        "--warmup",
        "5",
        "--lr",
        "1e-2",
    ]
    first = train.main([*common, "--steps", "20"])
    result = train.main([*common, "--steps", "60", "--resume"])
    keys = {
        "val_perplexity",
        "val_bits_per_char",
        "val_char_accuracy",
        "unigram_perplexity",
        "bigram_perplexity",
        "steps",
        "seconds",
        "params",
    }
    saved = json.loads((out / "metrics.json").read_text())
    assert keys <= set(saved) and saved["steps"] == 60
    assert saved["val_bits_per_char"] == pytest.approx(math.log2(saved["val_perplexity"]))
    # training continued from the checkpoint and kept learning
    assert result["val_perplexity"] < 0.8 * first["val_perplexity"]
    assert result["val_perplexity"] < 0.6 * result["unigram_perplexity"]
    assert "resumed from" in capsys.readouterr().out
    if importlib.util.find_spec("matplotlib"):
        assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    sample = _example("sample")
    text = sample.main(["--out", str(out), "--prompt", "the ", "-n", "40", "--seed", "1"])
    assert text.startswith("the ") and len(text) == 44
    again = sample.main(
        ["--out", str(out), "--prompt", "the ", "-n", "40", "--seed", "1", "--no-cache"]
    )
    assert again == text  # the same seed gives the same text, with or without the cache
