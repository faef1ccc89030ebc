"""Logging: one line per event, `event key=value …` for humans or JSON for collectors.

Every line passes through `redact`, so a Slack token can never reach a log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.errors import redact


class HumanFormatter(logging.Formatter):
    """`2026-01-28T12:00:00Z INFO  feed_polled feed=reuters items=20`."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{when} {record.levelname:<5} {record.getMessage()}"
        if record.exc_info:
            line += " exception=" + repr(self.formatException(record.exc_info).splitlines()[-1])
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `key=value` pairs of the message become fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        event, _, rest = message.partition(" ")
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name, "event": event,
        }
        data.update(_pairs(rest))
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info).splitlines()[-1])
        return json.dumps(data, ensure_ascii=False)


def _pairs(text: str) -> dict[str, str]:
    """Split `a=1 b=two words c=3` into fields; a value runs until the next ` key=`."""
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
    return out


def setup(level: str = "info", fmt: str = "human") -> None:
    """Configure the root logger for the CLI (stderr; stdout is for alerts and reports)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "slack_sdk", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
