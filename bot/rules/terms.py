"""Keyword terms: whole words and phrases, `prefix*` and `/regex/`, matched case-insensitively.

A plain term matches only as a whole word or phrase: `H20` does not match `H200`, `chip` does
not match `chipotle`. Words of a phrase may be separated by spaces or hyphens. A trailing `*`
makes a prefix (`chip*` matches `chips`, `chipmaker`). `/…/` is a regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.text import fold

TermKind = Literal["word", "prefix", "regex"]

# Quantified groups that are themselves quantified: `(a+)+`, `(a*)*`, `(x|y+)*`…
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


@dataclass(frozen=True)
class Term:
    """One compiled term; `raw` is what the operator wrote."""

    raw: str
    kind: TermKind
    pattern: re.Pattern[str]

    def search(self, folded_text: str) -> bool:
        """True when the term occurs in text already passed through `fold`."""
        return self.pattern.search(folded_text) is not None


def compile_term(raw: str) -> Term:
    """Compile an operator's term; raises ValueError with a readable reason."""
    if not isinstance(raw, str):
        raise ValueError(f"a term must be a string, got {type(raw).__name__}")
    term = raw.strip()
    if not term:
        raise ValueError("empty term")
    if len(term) >= 2 and term.startswith("/") and term.endswith("/"):
        return Term(raw, "regex", _compile_regex(term[1:-1]))
    prefix = term.endswith("*")
    body = fold(term.rstrip("*").strip())
    if not body:
        raise ValueError(f"term {raw!r} has no letters before '*'")
    if "*" in body:
        raise ValueError(f"term {raw!r}: '*' is only allowed at the end (use /regex/ otherwise)")
    words = [re.escape(w) for w in re.split(r"[\s\-]+", body) if w]
    core = r"[\s\-]+".join(words)
    tail = r"\w*" if prefix else r"(?!\w)"
    pattern = re.compile(r"(?<!\w)" + core + tail)
    return Term(raw, "prefix" if prefix else "word", pattern)


def _compile_regex(source: str) -> re.Pattern[str]:
    if _NESTED_QUANTIFIER.search(source):
        raise ValueError(
            f"regex /{source}/ nests quantifiers, which can take exponential time; rewrite it"
        )
    try:
        return re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regex /{source}/: {exc}") from None
