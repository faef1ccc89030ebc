"""Text helpers shared by matching and rendering: invisible-character stripping and folding."""

from __future__ import annotations

import re
import unicodedata

# Zero-width, soft hyphen and bidi controls: invisible, so they must neither split a keyword
# nor reorder what a reader sees (a right-to-left override can disguise a link or a name).
# C0/C1 control characters too (but tab and newlines): an ESC in a headline could drive the
# terminal of whoever reads the console output.
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x00AD, 0x061C,
     *range(0x202A, 0x202F), *range(0x2066, 0x206A),
     *(c for c in range(0x00, 0x20) if chr(c) not in "\t\n\r"), *range(0x7F, 0xA0)]
)


# Finding none is several times faster than `translate`, and most texts have none.
_INVISIBLE_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _INVISIBLE) + "]")


def visible(text: str) -> str:
    """NFKC-normalised text without invisible or direction-changing characters."""
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_INVISIBLE) if _INVISIBLE_RE.search(text) else text


def fold(text: str) -> str:
    """The form both terms and texts are compared in: visible, case-folded."""
    return visible(text).casefold()


def squash(text: str) -> str:
    """Runs of whitespace as one space, none at either end (what `re.sub(r"\\s+", " ", text)
    .strip()` gives: both split on `str.isspace`, and this is three times faster)."""
    return " ".join(text.split())
