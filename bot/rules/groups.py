"""Term groups: the alternatives of one `all` entry, or a rule's `any` / `none` terms.

Single-word terms of a group are looked up all at once (a set intersection with the text's
words); phrases and prefixes are tried one by one, and only when the text holds one of their
words or a word with their prefix's first two letters; regexes are always tried. Identical
groups (rules sharing a `$list`) are one object, so a text's result for a group is computed
once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.rules.terms import Doc, Term

Indexed = tuple[tuple[int, Term], ...]


@dataclass(frozen=True)
class TermGroup:
    """Terms tried together; results come back in the operator's order."""

    terms: tuple[Term, ...]
    _words: dict[str, int] = field(init=False, repr=False, compare=False)
    _word_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    # The other terms, by something a text must hold for them to match: a word of theirs,
    # or the first two letters of a word their prefix starts. Most groups have hundreds of
    # terms and a text holds the key of a handful, so only those are tried.
    _by_word: dict[str, Indexed] = field(init=False, repr=False, compare=False)
    _by_start: dict[str, Indexed] = field(init=False, repr=False, compare=False)
    _always: Indexed = field(init=False, repr=False, compare=False)
    _word_keyed: frozenset[str] = field(init=False, repr=False, compare=False)
    _start_keyed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words: dict[str, int] = {}
        by_word: dict[str, list[tuple[int, Term]]] = {}
        by_start: dict[str, list[tuple[int, Term]]] = {}
        always = []
        for i, t in enumerate(self.terms):
            if t.kind == "word" and t.exact:
                words.setdefault(t.words[0], i)
            elif t.kind != "regex" and t.words:
                by_word.setdefault(t.words[0], []).append((i, t))
            elif t.kind == "prefix" and len(t.prefix) >= 2:
                by_start.setdefault(t.prefix[:2], []).append((i, t))
            else:
                always.append((i, t))
        set_ = object.__setattr__
        set_(self, "_words", words)
        set_(self, "_word_keys", frozenset(words))
        set_(self, "_by_word", {k: tuple(v) for k, v in by_word.items()})
        set_(self, "_by_start", {k: tuple(v) for k, v in by_start.items()})
        set_(self, "_always", tuple(always))
        set_(self, "_word_keyed", frozenset(by_word))
        set_(self, "_start_keyed", frozenset(by_start))

    def _word_hits(self, doc: Doc) -> list[int]:
        return [self._words[w] for w in doc.words & self._word_keys]

    def _others(self, doc: Doc) -> list[tuple[int, Term]]:
        """The terms besides single words that may occur in `doc`, in group order."""
        tried = list(self._always)
        for w in doc.words & self._word_keyed:
            tried.extend(self._by_word[w])
        if self._start_keyed:
            for s in doc.starts & self._start_keyed:
                tried.extend(self._by_start[s])
        tried.sort(key=_index)
        return tried

    def first(self, doc: Doc) -> str | None:
        """The first term (in group order) found in `doc`, or None."""
        best = min(self._word_hits(doc), default=len(self.terms))
        for i, t in self._others(doc):
            if i > best:
                break
            if t.found(doc):
                best = i
                break
        return self.terms[best].raw if best < len(self.terms) else None

    def every(self, doc: Doc) -> tuple[str, ...]:
        """Every term found in `doc`, in group order."""
        hits = set(self._word_hits(doc))
        hits.update(i for i, t in self._others(doc) if t.found(doc))
        return tuple(self.terms[i].raw for i in sorted(hits))


def _index(entry: tuple[int, Term]) -> int:
    return entry[0]


def group(terms: Sequence[Term]) -> TermGroup:
    """The shared group for these terms."""
    return _group(tuple(terms))


@lru_cache(maxsize=4096)
def _group(terms: tuple[Term, ...]) -> TermGroup:
    return TermGroup(terms)
