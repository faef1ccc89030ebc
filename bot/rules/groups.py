"""Term groups: the alternatives of one `all` entry, or a rule's `any` / `none` terms.

Single-word terms of a group are looked up all at once (a set intersection with the text's
words); only phrases, prefixes and regexes are tried one by one. Identical groups (rules
sharing a `$list`) are one object, so a text's result for a group is computed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.rules.terms import Doc, Term


@dataclass(frozen=True)
class TermGroup:
    """Terms tried together; results come back in the operator's order."""

    terms: tuple[Term, ...]
    _words: dict[str, int] = field(init=False, repr=False, compare=False)
    _others: tuple[tuple[int, Term], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words: dict[str, int] = {}
        others = []
        for i, t in enumerate(self.terms):
            if t.kind == "word" and t.exact:
                words.setdefault(t.words[0], i)
            else:
                others.append((i, t))
        object.__setattr__(self, "_words", words)
        object.__setattr__(self, "_others", tuple(others))

    def _word_hits(self, doc: Doc) -> list[int]:
        return [self._words[w] for w in doc.words.intersection(self._words)]

    def first(self, doc: Doc) -> str | None:
        """The first term (in group order) found in `doc`, or None."""
        best = min(self._word_hits(doc), default=len(self.terms))
        for i, t in self._others:
            if i > best:
                break
            if t.found(doc):
                best = i
                break
        return self.terms[best].raw if best < len(self.terms) else None

    def every(self, doc: Doc) -> tuple[str, ...]:
        """Every term found in `doc`, in group order."""
        hits = set(self._word_hits(doc))
        hits.update(i for i, t in self._others if t.found(doc))
        return tuple(self.terms[i].raw for i in sorted(hits))


def group(terms: Sequence[Term]) -> TermGroup:
    """The shared group for these terms."""
    return _group(tuple(terms))


@lru_cache(maxsize=4096)
def _group(terms: tuple[Term, ...]) -> TermGroup:
    return TermGroup(terms)
