"""Turn an item's title, link and summary into weighted tokens for story matching.

Weights come from a background English word-frequency table (`data/background_en.tsv`):
a token's weight grows with how rare it is in general English, so names and numbers carry
a story while "says", "new" and "report" barely count. Tokens are lightly stemmed so
"merges"/"merged"/"merger" and "volcano"/"volcanoes" meet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.dedup.normalize import strip_decorations

BACKGROUND_PATH = Path(__file__).with_name("data") / "background_en.tsv"

STOPWORDS_PATH = Path(__file__).with_name("data") / "stopwords.txt"
# Function words and newsroom boilerplate: they say nothing about which story this is.
STOP_WORDS = frozenset(
    word
    for line in STOPWORDS_PATH.read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
)

_WORD_RE = re.compile(r"[^\W_]+(?:['\u2019.][^\W_]+)*", re.UNICODE)
_SLUG_SPLIT_RE = re.compile(r"[-_+]+")
_HEX_ID_RE = re.compile(r"^(?=.*\d)[0-9a-z]{6,}$")
_SLUG_MIN_WORDS = 3
_CAMEL_RE = re.compile(r"(?<=[a-z]{3})(?=[A-Z][a-z]{3})")
_COMMON_NUMBER_ZIPF = 5.5
_OTHER_NUMBER_ZIPF = 4.0


@dataclass(frozen=True)
class Background:
    """Zipf frequency per stem (log10 per billion words); unknown stems count as rare."""

    zipf: Mapping[str, float]
    unknown_zipf: float = 2.0

    def weight(self, stem: str, ceiling: float, floor: float) -> float:
        """Informativeness of a stem: `ceiling - zipf`, at least `floor`.

        The table folds digits together, so numbers get their own rule: years and short
        counts are everywhere (weak), longer figures such as "1000" or "71" (from "7.1")
        are moderately telling.
        """
        if stem.isdigit():
            common = len(stem) <= 2 or (len(stem) == 4 and stem[:2] in ("19", "20"))
            zipf = _COMMON_NUMBER_ZIPF if common else _OTHER_NUMBER_ZIPF
        else:
            zipf = self.zipf.get(stem, self.unknown_zipf)
        return max(floor, ceiling - zipf)


def stem(word: str) -> str:
    """A light suffix stripper for English news words (plural, -ed, -ing)."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""),
                         ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "zes", "oes")):
                continue
            return word[: len(word) - len(suffix)] + keep
    return word


def words(text: str) -> list[str]:
    """Case-folded word tokens of `text`, possessives and inner dots/apostrophes removed."""
    out: list[str] = []
    # "ChiquitaFyffes" is two names glued together; keep the glued form and add its parts.
    parts = [p for w in _WORD_RE.findall(text) for p in _CAMEL_RE.split(w) if p != w]
    for raw in _WORD_RE.findall(text.casefold()) + [p.casefold() for p in parts]:
        token = re.sub(r"['\u2019]s$", "", raw)
        out.append(re.sub(r"['\u2019.]", "", token))
    return out


def content_stems(text: str) -> list[str]:
    """Stems of the non-stop words of `text` (single letters dropped), duplicates kept."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS and len(w) > 1]


def slug_words(link: str) -> list[str]:
    """Words of the most word-like segment of a link's path ("chiquita-fyffes-merge")."""
    try:
        path = unquote(urlsplit(link.replace("\\?", "?")).path)
    except ValueError:
        return []
    best: list[str] = []
    for segment in path.split("/"):
        segment = re.sub(r"\.[a-z0-9]{2,5}$", "", segment.casefold())
        parts = [p for p in _SLUG_SPLIT_RE.split(segment) if p and not _HEX_ID_RE.match(p)]
        if len(parts) >= _SLUG_MIN_WORDS and len(parts) > len(best):
            best = parts
    return best


@lru_cache(maxsize=4)
def load_background(path: Path = BACKGROUND_PATH) -> Background:
    """Read the background table once; word frequencies are summed per stem."""
    freq: dict[str, float] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or "\t" not in line:
                continue
            word, zipf = line.rstrip("\n").split("\t")
            key = stem(word)
            freq[key] = freq.get(key, 0.0) + 10 ** float(zipf)
    return Background({k: math.log10(v) for k, v in freq.items()})


def weigh(
    stems: Iterable[str], background: Background, ceiling: float, floor: float, scale: float
) -> dict[str, float]:
    """Weight per distinct stem, times `scale`."""
    return {s: scale * background.weight(s, ceiling, floor) for s in stems}


def title_text(title: str) -> str:
    """The part of a headline that carries meaning: decorations and trailing ellipsis off."""
    return strip_decorations(title).removesuffix("...").removesuffix("\u2026").strip()


_TAG_RE = re.compile(r"<[^>]+>")


def item_features(
    title: str, link: str, summary: str, background: Background, *,
    ceiling: float, floor: float, power: float,
    slug_scale: float, summary_scale: float, summary_words: int,
) -> dict[str, float]:
    """Weighted stems of an item: title words, then link-path and summary words scaled down.

    A stem seen in several places keeps its largest weight.
    """
    out: dict[str, float] = {}

    def add(stems: Iterable[str], scale: float) -> None:
        for s in stems:
            w = (scale * background.weight(s, ceiling, floor)) ** power
            if w > out.get(s, 0.0):
                out[s] = w

    add(content_stems(title_text(title)), 1.0)
    if slug_scale > 0:
        add(content_stems(" ".join(slug_words(link))), slug_scale)
    if summary and summary_scale > 0:
        text = _TAG_RE.sub(" ", summary)
        add(content_stems(" ".join(text.split()[:summary_words])), summary_scale)
    return out
