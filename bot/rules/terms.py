"""Keyword terms: whole words and phrases, `prefix*` and `/regex/`, matched case-insensitively.

A plain term matches only as a whole word or phrase: `H20` does not match `H200`, `chip` does
not match `chipotle`. Words of a phrase may be separated by spaces or hyphens. A trailing `*`
makes a prefix (`chip*` matches `chips`, `chipmaker`). `/…/` is a regular expression. A leading
`=` makes a word, phrase or prefix case-sensitive (`=Intel` matches the company, not "intel").
A leading `title:` makes any term match in the headline only (the text's first line).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Literal

from bot.text import fold, visible

TermKind = Literal["word", "prefix", "regex"]

# Quantified groups that are themselves quantified: `(a+)+`, `(a*)*`, `(x|y+)*`…
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


_WORD_RE = re.compile(r"\w+")


class Doc:
    """A text prepared for matching: folded once, its words indexed for quick rejection."""

    __slots__ = ("_sorted", "_starts", "_title", "cased", "text", "words")

    def __init__(self, text: str) -> None:
        # `cased` keeps the letters' case for `=Term`s; `text` is what every other term sees.
        self.cased = visible(text)
        self.text = self.cased.casefold()
        self.words = frozenset(_WORD_RE.findall(self.text))
        self._sorted: list[str] | None = None
        self._starts: frozenset[str] | None = None
        self._title: Doc | None = None

    @property
    def title(self) -> Doc:
        """The headline alone: an item's text is its title, a newline, then its summary."""
        if self._title is None:
            head, newline, _ = self.cased.partition("\n")
            self._title = Doc(head) if newline else self
        return self._title

    @property
    def starts(self) -> frozenset[str]:
        """The first two letters of each word (a word that starts with a prefix shares them)."""
        if self._starts is None:
            self._starts = frozenset(w[:2] for w in self.words)
        return self._starts

    def has_prefix(self, prefix: str) -> bool:
        if self._sorted is None:
            self._sorted = sorted(self.words)
        i = bisect_left(self._sorted, prefix)
        return i < len(self._sorted) and self._sorted[i].startswith(prefix)


@dataclass(frozen=True)
class Term:
    """One compiled term; `raw` is what the operator wrote.

    `words` must all occur as whole words and `prefix` must start a word for the term to
    match at all: a set lookup rejects most texts before any regex runs.
    """

    raw: str
    kind: TermKind
    source: str  # the regular expression the term stands for
    words: tuple[str, ...] = ()
    prefix: str = ""
    exact: bool = False  # the word checks alone decide (a single word or prefix)
    flags: int = 0
    cased: bool = False  # `=Term`: the pattern runs on the text with its case kept
    title: bool = False  # `title:term`: only the headline is searched
    parts: tuple[str, ...] = ()  # a word or prefix term's words, folded (for the prefilter)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The compiled expression, on first use: most terms are decided by word lookups."""
        return re.compile(self.source, self.flags)

    def search(self, folded_text: str) -> bool:
        """True when the term occurs in text already passed through `fold` (a case-sensitive
        term needs the case kept: use `found`)."""
        return self.pattern.search(folded_text) is not None

    def found(self, doc: Doc) -> bool:
        """True when the term occurs in `doc`; the fast path for rule evaluation."""
        if self.title:
            doc = doc.title
        if self.kind == "regex":
            return self.search(doc.text)
        if any(w not in doc.words for w in self.words):
            return False
        if self.prefix and not doc.has_prefix(self.prefix):
            return False
        if self.cased:
            return self.pattern.search(doc.cased) is not None
        return self.exact or self.search(doc.text)


@lru_cache(maxsize=65536)
def compile_term(raw: str) -> Term:
    """Compile an operator's term; raises ValueError with a readable reason. Cached: rules
    share `$lists`, so the same term is asked for many times."""
    if not isinstance(raw, str):
        raise ValueError(f"a term must be a string, got {type(raw).__name__}")
    term = raw.strip()
    if not term:
        raise ValueError("empty term")
    if term.startswith("title:"):
        inner = compile_term(term[len("title:"):])
        if inner.title:
            return replace(inner, raw=raw)
        # Not `exact`: a group's one-lookup word check reads the whole text's words.
        return replace(inner, raw=raw, exact=False, title=True)
    if len(term) >= 2 and term.startswith("/") and term.endswith("/"):
        return Term(raw, "regex", _compile_regex(term[1:-1]).pattern, flags=re.IGNORECASE)
    cased = term.startswith("=")
    if cased:
        term = term[1:].strip()
    prefix = term.endswith("*")
    body = fold(term.rstrip("*").strip())
    if not body:
        raise ValueError(f"term {raw!r} has no letters" + (" before '*'" if prefix else ""))
    if "*" in body:
        raise ValueError(f"term {raw!r}: '*' is only allowed at the end (use /regex/ otherwise)")
    # The pattern of a case-sensitive term keeps the operator's letters; its word checks (on
    # the folded text's words) still reject most texts before the pattern runs.
    written = visible(term.rstrip("*").strip()) if cased else body
    parts = [w for w in re.split(r"[\s\-]+", written) if w]
    core = r"[\s\-]+".join(re.escape(w) for w in parts)
    tail = r"\w*" if prefix else r"(?!\w)"
    source = r"(?<!\w)" + core + tail
    pieces = _WORD_RE.findall(body)
    last_is_word = bool(pieces) and body.endswith(pieces[-1])
    stem = pieces[-1] if prefix and last_is_word else ""
    words = tuple(pieces[:-1] if stem else pieces)
    exact = len(pieces) == 1 and _WORD_RE.fullmatch(body) is not None and not cased
    # The prefilter searches the folded text: a cased term's hit is also a hit of its folded
    # words there, so it gates on those.
    folded_parts = tuple(w for w in re.split(r"[\s\-]+", body) if w)
    return Term(raw, "prefix" if prefix else "word", source, words, stem, exact, cased=cased,
                parts=folded_parts)


def _compile_regex(source: str) -> re.Pattern[str]:
    if _NESTED_QUANTIFIER.search(source):
        raise ValueError(
            f"regex /{source}/ nests quantifiers, which can take exponential time; rewrite it"
        )
    try:
        return re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regex /{source}/: {exc}") from None
