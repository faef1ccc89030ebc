"""Headline and summary → one feature vector for the relevance model.

A vector is the concatenation of
- the headline's static embedding (WordLlama, 256 numbers, unit length): what it is about,
  in words the labels never used;
- the summary's embedding, weighed down: a summary adds context, but words found only there
  are most often background ("despite US curbs") to news of another kind;
- the headline's words and word pairs, hashed into `HASH_DIM` slots: senses an average of
  word vectors blurs ("chip in", "fish and chip", "duties of the office");
- a constant 1 (the intercept).

The embedder is a Protocol so that tests and training can pass any; the real one loads the
weights and tokenizer that ship inside the `wordllama` wheel, once, when first asked — never
from the network.
"""

from __future__ import annotations

import itertools
import re
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]

EMBED_DIM = 256
HASH_DIM = 2048
SUMMARY_WEIGHT = 0.5
EMBEDDER_NAME = "wordllama-l2_supercat-256"
_TOKEN = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")


class Embedder(Protocol):
    """Texts → unit-length vectors, one row per text."""

    name: str

    def embed(self, texts: Sequence[str]) -> Vector: ...


class WordLlamaEmbedder:
    """WordLlama's 256-dimension model from the installed package's own folder; loaded on
    first use (a run that scores nothing never pays for it), thread-safe."""

    name = EMBEDDER_NAME

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import wordllama
                from wordllama import WordLlama

                folder = Path(wordllama.__file__).parent
                self._model = WordLlama.load(config="l2_supercat", dim=EMBED_DIM,
                                             cache_dir=folder, disable_download=True)
            return self._model

    def embed(self, texts: Sequence[str]) -> Vector:
        model = self._model or self._load()
        out = model.embed(list(texts), norm=True)
        return np.asarray(out, dtype=np.float64).reshape(len(texts), EMBED_DIM)


def tokens(text: str) -> list[str]:
    """Lower-case words of `text` (apostrophe forms kept whole)."""
    return _TOKEN.findall(text.lower())


def grams(text: str) -> list[str]:
    """The words and adjacent word pairs of a headline, each once, in order."""
    words = tokens(text)
    seen = dict.fromkeys(words + [f"{a}_{b}" for a, b in itertools.pairwise(words)])
    return list(seen)


def slot(gram: str) -> int:
    """The hashed slot of a word or word pair (crc32: the same on every machine)."""
    return zlib.crc32(gram.encode()) % HASH_DIM


def hashed(titles: Sequence[str]) -> Vector:
    """Each headline's words and pairs as a unit-length vector of `HASH_DIM` slots."""
    out = np.zeros((len(titles), HASH_DIM))
    for row, title in enumerate(titles):
        for g in grams(title):
            out[row, slot(g)] = 1.0
        norm = float(np.linalg.norm(out[row]))
        if norm:
            out[row] /= norm
    return out


def featurize(embedder: Embedder, titles: Sequence[str], summaries: Sequence[str]) -> Vector:
    """The feature matrix of (headline, summary) pairs; an empty summary counts as the
    headline's own (so a bare headline is not penalised for having none)."""
    if len(summaries) != len(titles):
        raise ValueError("one summary per headline")
    heads = embedder.embed(titles)
    bodies = heads.copy()
    given = [i for i, s in enumerate(summaries) if s]
    if given:  # a bare headline's body is its headline: not embedded twice
        bodies[given] = embedder.embed([summaries[i] for i in given])
    ones = np.ones((len(titles), 1))
    return np.hstack([heads, SUMMARY_WEIGHT * bodies, hashed(titles), ones])


FEATURES = EMBED_DIM * 2 + HASH_DIM + 1
