"""Text helpers: `squash` spaces text exactly as the regex it replaced did."""

from __future__ import annotations

import re

from bot.text import squash

_SPACE_RE = re.compile(r"\s+")


def test_squash_agrees_with_the_whitespace_regex_on_every_code_point() -> None:
    spaces = [chr(c) for c in range(0x110000) if _SPACE_RE.match(chr(c)) or chr(c).isspace()]
    assert " " in spaces and "\u00a0" in spaces and "\u2028" in spaces
    for ch in spaces:
        text = f"{ch}chip{ch}{ch}export {ch}ban{ch}"
        assert squash(text) == _SPACE_RE.sub(" ", text).strip() == "chip export ban"
    assert squash("") == "" and squash(" \t\n") == ""
