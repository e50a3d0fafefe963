"""Built-in offline text assets for smoke runs and tests, built on first use into a cache dir.

* ``builtin:tiny-sentiment``: a generated two-class sentiment set (``text``, ``label``) as
  ``train.jsonl`` / ``validation.jsonl``, read back through the local-file loader.
* ``builtin:tiny-bert``: a 2-layer BERT (hidden 32) with a WordPiece vocabulary trained on that
  text, saved with ``save_pretrained`` and loaded through ``from_pretrained`` like a hub model.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

TINY_BERT = "builtin:tiny-bert"
TINY_SENTIMENT = "builtin:tiny-sentiment"
DEFAULT_CACHE = "~/.cache/sweeprunner"

_POSITIVE = [
    "good",
    "great",
    "excellent",
    "wonderful",
    "delightful",
    "superb",
    "lovely",
    "brilliant",
    "charming",
    "moving",
    "fun",
    "clever",
]
_NEGATIVE = [
    "bad",
    "terrible",
    "awful",
    "boring",
    "dull",
    "horrible",
    "poor",
    "dreadful",
    "mediocre",
    "tedious",
    "clumsy",
    "bland",
]
_NOUNS = [
    "movie",
    "film",
    "plot",
    "acting",
    "story",
    "ending",
    "cast",
    "script",
    "soundtrack",
    "dialogue",
    "pacing",
    "direction",
]
_TEMPLATES = [
    "the {n} was {a}",
    "what a {a} {n}",
    "i found the {n} {a} and {b}",
    "a {a} {n} overall",
    "honestly the {n} felt {a}",
    "the {n} is {a} , the {m} is {b}",
    "such {a} {n} !",
]


def sentiment_rows(count: int, seed: int) -> list[dict[str, object]]:
    """``count`` generated reviews, balanced between label 0 (negative) and 1 (positive)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = i % 2
        words = _POSITIVE if label else _NEGATIVE
        text = rng.choice(_TEMPLATES).format(
            n=rng.choice(_NOUNS), m=rng.choice(_NOUNS), a=rng.choice(words), b=rng.choice(words)
        )
        rows.append({"text": text, "label": label})
    rng.shuffle(rows)
    return rows


def _build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Build into a temp dir and rename it into place (safe when trials race)."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        build(tmp)
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def tiny_sentiment(cache_dir: str | os.PathLike[str] = DEFAULT_CACHE) -> Path:
    """Directory with ``train.jsonl`` (600 rows) and ``validation.jsonl`` (200 rows)."""

    def build(out: Path) -> None:
        for split, count, seed in (("train", 600, 0), ("validation", 200, 1)):
            lines = (json.dumps(row) for row in sentiment_rows(count, seed))
            (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n")

    return _build_once(Path(cache_dir).expanduser() / "tiny-sentiment-v1", build)


def build_tiny_bert(out: str | os.PathLike[str], texts: list[str], *, seed: int = 0) -> Path:
    """Save a 2-layer BERT and a WordPiece tokenizer trained on ``texts`` to ``out``."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizer

    out = Path(out)
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(texts, vocab_size=400, min_frequency=1)
    tokenizer = BertTokenizer(vocab=wordpiece.get_vocab(), do_lower_case=True)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(out)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        type_vocab_size=2,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(out)
    return out


def tiny_bert(cache_dir: str | os.PathLike[str] = DEFAULT_CACHE) -> Path:
    """Directory of the tiny BERT, built from the tiny-sentiment train texts."""
    texts_file = tiny_sentiment(cache_dir) / "train.jsonl"

    def build(out: Path) -> None:
        texts = [json.loads(line)["text"] for line in texts_file.read_text().splitlines() if line]
        build_tiny_bert(out, texts)

    return _build_once(Path(cache_dir).expanduser() / "tiny-bert-v1", build)
