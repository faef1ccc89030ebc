"""A one-pass test that rejects texts on which no rule can fire, before any rule is evaluated.

A rule fires only if each of its `all` groups (and its `any` terms, when given) has a hit, so
one of those groups is a necessary condition: its *gate*. The gate terms of every rule go into
one regular expression, built as a trie so the engine dispatches on one character at a time
instead of trying hundreds of alternatives at every position. A text in which that
expression finds nothing cannot make any rule fire; every other text is evaluated in full, so
results are exactly those of evaluating every rule.

Which group gates a rule decides only speed: the rarest group in English (by the word
frequency table that story dedup also uses) lets the fewest texts through, and a group that
other rules already chose costs nothing more.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.rules.literals import required
from bot.rules.terms import Term

if TYPE_CHECKING:
    from bot.rules.engine import CompiledRule

FREQUENCY_PATH = Path(__file__).resolve().parent.parent / "dedup" / "data" / "background_en.tsv"
_UNKNOWN = 10.0 ** 1.5  # a word the table lacks (model numbers, company names) is rare
_NO_WORDS = 10.0 ** 6.5  # a literal of punctuation alone is everywhere
_SEP = "\x00"  # trie key for the separator between the words of a phrase
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class Frequencies:
    """Word frequencies (per billion words) from the background table."""

    words: Mapping[str, float]
    ordered: tuple[str, ...]

    def word(self, w: str) -> float:
        return self.words.get(w, _UNKNOWN)

    def prefix(self, stem: str) -> float:
        """Frequency of all words starting with `stem` (the words themselves are in the table
        only up to its cut-off, so at least that of an unknown word)."""
        i, total = bisect_left(self.ordered, stem), 0.0
        while i < len(self.ordered) and self.ordered[i].startswith(stem):
            total += self.words[self.ordered[i]]
            i += 1
        return max(total, _UNKNOWN)

    def text(self, text: str) -> float:
        """How often a phrase occurs, roughly: it is rarer than its rarest word."""
        words = _WORD_RE.findall(text)
        if not words:
            return _NO_WORDS
        return min(map(self.word, words)) / (10.0 if len(words) > 1 else 1.0)

    def term(self, t: Term) -> float:
        """A rough estimate of how often `t` occurs: enough to rank groups."""
        if t.kind == "regex":
            lits = required(t.source, t.flags)
            return math.inf if lits is None else sum(map(self.text, lits))
        if not t.prefix:
            return self.text(" ".join(t.parts))
        stem = self.prefix(t.prefix)
        return stem if not t.words else min(stem, self.text(" ".join(t.words))) / 10.0


@lru_cache(maxsize=2)
def frequencies(path: Path = FREQUENCY_PATH) -> Frequencies:
    """Read the table once per process (lines of `word<TAB>zipf`; `#` comments)."""
    words: dict[str, float] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:  # without the table every word looks alike: gates are still correct
        lines = []
    for line in lines:
        word, _, zipf = line.partition("\t")
        if zipf and not line.startswith("#"):
            words[word] = words.get(word, 0.0) + 10.0 ** float(zipf)
    return Frequencies(words, tuple(sorted(words)))


def choose_gates(rules: Sequence[CompiledRule],
                 freq: Frequencies) -> list[tuple[Term, ...]] | None:
    """One necessary group per rule, together letting through as few texts as the table
    suggests; None when some rule could fire with no term we can search for."""
    options = []
    for rule in rules:
        groups = [*rule.all_groups, *([rule.any_terms] if rule.any_terms else [])]
        options.append(groups)
    cost: dict[str, float] = {}
    for t in {t.raw: t for groups in options for g in groups for t in g}.values():
        cost[t.raw] = freq.term(t)
    # Rules whose best group is rarest choose first; a term already chosen costs nothing
    # more, so later rules lean on the groups earlier ones picked.
    order = sorted(range(len(rules)), key=lambda i: min(
        (sum(cost[t.raw] for t in g) for g in options[i]), default=math.inf))
    chosen: dict[int, tuple[Term, ...]] = {}
    uses: dict[str, int] = {}
    for i in order:
        best = min(options[i], default=(),
                   key=lambda g: sum(cost[t.raw] for t in g if t.raw not in uses))
        if not best or any(math.isinf(cost[t.raw]) for t in best):
            return None
        chosen[i] = best
        for raw in {t.raw for t in best}:
            uses[raw] = uses.get(raw, 0) + 1
    for _ in range(5):  # then move single rules while that shrinks the union
        if not [i for i in order if _improve(i, options[i], chosen, uses, cost)]:
            break
    return [chosen[i] for i in range(len(rules))]


def _improve(i: int, groups: list[tuple[Term, ...]], chosen: dict[int, tuple[Term, ...]],
             uses: dict[str, int], cost: Mapping[str, float]) -> bool:
    """Give rule `i` the group that most lowers the cost of the union; True if it moved."""
    current = {t.raw for t in chosen[i]}
    freed = sum(cost[raw] for raw in current if uses[raw] == 1)
    best, gain = chosen[i], 0.0
    for g in groups:
        added = sum(cost[raw] for raw in {t.raw for t in g}
                    if uses.get(raw, 0) - (raw in current) == 0)
        if freed - added > gain * (1 + 1e-9) and not math.isinf(added):
            best, gain = g, freed - added
    if best is chosen[i]:
        return False
    for raw in current:
        uses[raw] -= 1
    for raw in {t.raw for t in best}:
        uses[raw] = uses.get(raw, 0) + 1
    chosen[i] = best
    return True


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    word_end: bool = False  # a whole-word term ends here: the next character is no word's
    prefix_end: bool = False  # a prefix term ends here: whatever follows, it matched


def _trie(terms: Sequence[Term]) -> str:
    root = _Node()
    for t in terms:
        node = root
        for key in _SEP.join(t.parts):
            node = node.children.setdefault(key, _Node())
        if t.kind == "prefix":
            node.prefix_end = True
        else:
            node.word_end = True
    return _emit(root)


def _emit(node: _Node) -> str:
    if node.prefix_end:
        return ""  # matched already: longer terms below add nothing to a yes/no test
    alts = [(r"[\s\-]+" if key == _SEP else re.escape(key)) + _emit(child)
            for key, child in sorted(node.children.items())]
    if node.word_end:
        alts.append(r"(?!\w)")
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


class Prefilter:
    """`possible(folded_text)` is False only when no rule of the set can fire on the text."""

    def __init__(self, gates: Sequence[tuple[Term, ...]] | None) -> None:
        self.enabled = gates is not None
        terms = sorted({t.raw: t for g in gates or () for t in g}.values(), key=lambda t: t.raw)
        self.terms = len(terms)
        words = [t for t in terms if t.kind != "regex"]
        self.words = re.compile(r"(?<!\w)" + _trie(words)) if words else None
        lits: set[str] = set()
        for t in terms:
            if t.kind == "regex":
                lits |= required(t.source, t.flags) or set()
        # A regex term compares ignoring case; in folded ASCII text the only letters are
        # lower case, so there the lowered literals are found without the (slow) flag.
        self.ascii_ok = all(lit.isascii() for lit in lits)
        self.lits = _any_of(_shortest(lits), re.IGNORECASE) if lits else None
        self.lits_lower = _any_of(_shortest({lit.lower() for lit in lits})) if lits else None

    def possible(self, folded: str) -> bool:
        if not self.enabled:
            return True
        if self.words is not None and self.words.search(folded) is not None:
            return True
        if self.lits is None or self.lits_lower is None:
            return False
        ascii_fast = self.ascii_ok and folded.isascii()
        return (self.lits_lower if ascii_fast else self.lits).search(folded) is not None


def _shortest(lits: set[str]) -> list[str]:
    """The literals that hold no other: where a longer one occurs, so does the one it holds,
    and a pattern of one literal is searched several times faster than an alternation."""
    return sorted(a for a in lits if not any(b != a and b in a for b in lits))


def _any_of(lits: list[str], flags: int = 0) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, lits)), flags)


def build(rules: Sequence[CompiledRule]) -> Prefilter:
    """The prefilter for this rule set."""
    return Prefilter(choose_gates(rules, frequencies()))

