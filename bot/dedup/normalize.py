"""Normalisation used for exact dedup and as the first step of fuzzy matching.

`normalize_url` gives one spelling per link (tracking params gone, http/https equal);
`normalize_title` gives one spelling per headline (case, quotes, punctuation, wire
prefixes such as "UPDATE 2-" and source suffixes such as " - Reuters" removed).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.text import squash

_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Wire-service prefixes: "UPDATE 2-", "EXCLUSIVE-", "WRAPUP 1-", "RPT-", "CORRECTED-"...
_WIRE_PREFIX_RE = re.compile(
    r"^\s*(?:(?:update|wrapup|wrap-up|exclusive|rpt|corrected|refile|urgent|breaking"
    r"|analysis|factbox|insight|timeline|snap analysis|special report|live|video|watch"
    r"|photos?|opinion|editorial)(?:\s*\d+)?\s*(?:[-:\u2013\u2014|]+)\s*)+",
    re.IGNORECASE,
)
# A trailing " - Reuters", " | CNBC", " — The Verge": a short tail after a spaced separator.
_SOURCE_SUFFIX_RE = re.compile(r"\s+[-|\u2013\u2014:]+\s+([^-|\u2013\u2014]{1,40})$")
_SUFFIX_MAX_WORDS = 4
_QUOTES_RE = re.compile(r"[\"'\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00ab\u00bb`\u00b4]")
_POSSESSIVE_RE = re.compile(r"(?<=\w)['\u2019]s\b")
_NON_WORD_RE = re.compile(r"[^\w\s]+")


_CACHE = 16384  # an item's link and title are normalised by dedup and again when stored
_PLAIN_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+$")
_PLAIN_PAIR = r"[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*"
_PLAIN_QUERY_RE = re.compile(rf"{_PLAIN_PAIR}(?:&{_PLAIN_PAIR})*")


@lru_cache(maxsize=_CACHE)
def normalize_url(url: str) -> str:
    """One canonical spelling of a link, for exact dedup.

    Lowercases scheme and host, treats http as https, drops default ports, fragments,
    tracking parameters (utm_*, fbclid, gclid, mc_cid, mc_eid) and a trailing slash, and
    sorts the remaining query parameters.
    """
    raw = url.strip()
    if not raw:
        return ""
    plain = _plain_url(raw)
    if plain is not None:
        return plain
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return raw
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    if scheme == "http":
        scheme = "https"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    )
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def _plain_url(raw: str) -> str | None:
    """The common case without urllib: http(s), a bare host, a path, and a query (if any) of
    plain `key=value` pairs, no fragment; None for anything else (the full parse handles
    it). Gives what the full parse gives (checked on every link of the dev archive)."""
    if "#" in raw:
        return None
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    rest, mark, query = rest.partition("?")
    host, slash, path = rest.partition("/")
    if not host or not _PLAIN_HOST_RE.match(host):
        return None
    base = f"https://{host.lower()}{(slash + path).rstrip('/')}"
    if not mark:
        return base
    if not _PLAIN_QUERY_RE.fullmatch(query):
        return None
    kept = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        low = key.lower()
        if not low.startswith("utm_") and low not in _TRACKING_PARAMS:
            kept.append((key, value))
    kept.sort()
    return f"{base}?{'&'.join(f'{k}={v}' for k, v in kept)}" if kept else base


def strip_decorations(title: str) -> str:
    """Remove wire prefixes and a trailing source suffix, keeping case and punctuation."""
    text = unicodedata.normalize("NFKC", title).strip()
    text = _WIRE_PREFIX_RE.sub("", text)
    match = _SOURCE_SUFFIX_RE.search(text)
    # Only a short tail counts as a source; "Fed hikes - and markets shrug" keeps its tail
    # when the head would be left too short to be a headline on its own.
    if match and len(match.group(1).split()) <= _SUFFIX_MAX_WORDS:
        head = text[: match.start()]
        if len(head.split()) >= 3:
            text = head
    return text.strip()


@lru_cache(maxsize=_CACHE)
def normalize_title(title: str) -> str:
    """Case-folded headline without quotes, punctuation, wire prefixes or source suffix."""
    text = strip_decorations(title).casefold()
    # Possessives go before quotes do, so "China's" and "China" normalise alike.
    if "'" in text or "\u2019" in text:
        text = _POSSESSIVE_RE.sub("", text)
    return squash(unpunctuated(text))


# ASCII's quotes, and every other ASCII character that is neither a letter, a digit nor a
# space (so `_` too): what the two regexes below remove or blank in ASCII text.
_ASCII_PUNCT = str.maketrans({c: None if c in "\"'`" else " " for c in map(chr, range(128))
                              if not (c.isalnum() or c.isspace())})


def unpunctuated(text: str) -> str:
    """Quotes removed and every other non-word character (and `_`) blanked; runs of spaces
    are left for the caller to squash."""
    if text.isascii():  # one table lookup a character instead of two regex passes
        return text.translate(_ASCII_PUNCT)
    return unpunctuated_slowly(text)


def unpunctuated_slowly(text: str) -> str:
    """`unpunctuated` for any text (the reference the ASCII table is tested against)."""
    return _NON_WORD_RE.sub(" ", _QUOTES_RE.sub("", text)).replace("_", " ")
