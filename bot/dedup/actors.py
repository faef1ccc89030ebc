"""Which governments act in a headline, for keeping one actor's development apart from
another's.

In chip-trade news almost every headline shares "chip", "export", "China": vocabulary alone
folds Singapore's seizure into Hong Kong's, or Washington's tool rules into The Hague's.
China is left out on purpose: it is the usual *target* of the controls ("… to China"), so
naming it says little about who acts. Two headlines whose other named governments do not
overlap at all report two actors' decisions.
"""

from __future__ import annotations

import itertools

# Normalised headline words (see normalize_title: case-folded, punctuation blanked, so
# "U.S." is "u s") → the government they name. Pairs are looked up before single words.
_NAMES: dict[str, tuple[str, ...]] = {
    "us": ("us", "u s", "united states", "america", "american", "washington", "biden",
           "trump", "white house", "commerce department", "raimondo", "lutnick"),
    "japan": ("japan", "japanese", "tokyo"),
    "netherlands": ("netherlands", "dutch", "the hague"),
    "eu": ("eu", "european union", "european commission", "brussels"),
    "korea": ("south korea", "korea", "korean", "seoul"),
    "taiwan": ("taiwan", "taiwanese", "taipei"),
    "uk": ("uk", "britain", "british"),
    "india": ("india", "indian", "new delhi"),
    "russia": ("russia", "russian", "moscow", "kremlin"),
    "germany": ("germany", "german", "berlin"),
    "singapore": ("singapore", "singaporean"),
    "malaysia": ("malaysia", "malaysian"),
    "hong kong": ("hong kong",),
}
_PAIRS = {n: a for a, names in _NAMES.items() for n in names if " " in n}
_WORDS = {n: a for a, names in _NAMES.items() for n in names if " " not in n}


def actors(title_key: str) -> frozenset[str]:
    """The governments other than China that a normalised headline names."""
    words = title_key.split()
    found = {_WORDS[w] for w in words if w in _WORDS}
    found |= {_PAIRS[f"{a} {b}"] for a, b in itertools.pairwise(words)
              if f"{a} {b}" in _PAIRS}
    return frozenset(found)


def apart(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two headlines' actors say two developments: both name one, and none in common."""
    return bool(a) and bool(b) and not a & b
