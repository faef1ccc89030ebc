"""Logging: one line per event, `event key=value …` for humans or JSON for collectors.

Every line passes through `redact`, so a Slack token can never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from bot.errors import redact

_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")
# A Slack message ts ("1767000000.000100") is an id, not a number: a float would round it.
_SLACK_TS_RE = re.compile(r"\d{9,}\.\d{6}")


def _own(record: logging.LogRecord) -> bool:
    return record.name == "chipwatch" or record.name.startswith("chipwatch.")


def _library(record: logging.LogRecord) -> tuple[str, str]:
    """A library's free-text line (slack_sdk's retries and connection errors, httpx,
    APScheduler) as an event `<library>_log` and its text on one line."""
    return f"{record.name.split('.')[0]}_log", " ".join(record.getMessage().split())


def event_line(record: logging.LogRecord) -> str:
    """The record as `event key=value …`: our own messages already are; a library's line
    gets its event name, its logger and its text as the last field, `message`."""
    if _own(record):
        return record.getMessage()
    event, text = _library(record)
    return f"{event} logger={record.name} message={text}"


class HumanFormatter(logging.Formatter):
    """`2026-01-28T12:00:00Z INFO  feed_polled feed=reuters items=20`."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{when} {record.levelname:<5} {event_line(record)}"
        if record.exc_info:
            line += " exception=" + repr(self.formatException(record.exc_info).splitlines()[-1])
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `key=value` pairs of the message become fields."""

    def format(self, record: logging.LogRecord) -> str:
        if _own(record):
            event, _, rest = redact(record.getMessage()).partition(" ")
            fields = _pairs(rest)
        else:  # free text: kept whole, never split into made-up fields
            event, text = _library(record)
            fields = {"message": redact(text)}
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name, "event": event,
        }
        # A field named like one of the line's own (`ts=` of a Slack message) keeps its
        # value under a prefixed name instead of overwriting the line's time or level.
        data.update({f"field_{k}" if k in _OWN_KEYS else k: v for k, v in fields.items()})
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info).splitlines()[-1])
        return json.dumps(data, ensure_ascii=False)


_OWN_KEYS = frozenset({"ts", "level", "logger", "event"})


def _pairs(text: str) -> dict[str, object]:
    """Split `a=1 b=two words c=3` into fields; a value runs until the next ` key=`. Values
    that are plain numbers (`20`, `0.25`, `-3`) become JSON numbers."""
    out: dict[str, str] = {}
    key = None
    for token in text.split(" "):
        name, eq, value = token.partition("=")
        if eq and name.isidentifier():
            key = name
            out[key] = value
        elif key is not None:
            out[key] += " " + token
        elif token:
            out.setdefault("message", "")
            out["message"] = (out["message"] + " " + token).strip()
    return {k: _number(v) if k != "message" else v for k, v in out.items()}


def _number(value: str) -> object:
    if not _NUMBER_RE.fullmatch(value) or _SLACK_TS_RE.fullmatch(value):
        return value
    return float(value) if "." in value else int(value)


def setup(level: str = "info", fmt: str = "human") -> None:
    """Configure logging for the CLI (stderr; stdout is for alerts and reports), all of it:
    a command that quietened our own logger earlier in this process does not carry over."""
    logging.getLogger("chipwatch").setLevel(logging.NOTSET)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "slack_sdk", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
