"""Hostile and broken feeds through the real poll path (httpx on loopback, feedparser, SQLite).

Each case must come back within the fetch deadline (2 s here), leave one log line naming the
feed and the reason, and never raise out of `App.poll`. Hang time and peak traced memory per
endpoint are printed at the end of the module.
"""

from __future__ import annotations

import io
import logging
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import SYSTEM_CLOCK
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.feeds import HttpFetcher, Outcome
from bot.slack.notifier import ConsoleNotifier
from bot.store import SqliteStore
from bot.store import feeds as feed_store
from tests.conftest import write_config
from tests.support import hostile_server as hs
from tests.support.feed_server import FeedServer
from tests.support.figures import FIGURES as ROBUST_FIGURES
from tests.support.util import poll, rss

pytestmark = pytest.mark.slow  # timing: fetch deadlines against trickling servers

DEADLINE = 2.0
SLACK = 4.0  # generous: two shared cores, other suites running
CAP = 10_000_000
HTML = (b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
        b"<body><p>Please sign in to read China H200 import news</p></body></html>")
GOOD = rss([{"title": "China approves H200 imports", "link": "https://e.com/ok"}])
LATIN1 = rss([{"title": "Huawei Ascend: China's customs approve H200 import, d\u00e9j\u00e0 vu",
                  "link": "https://e.com/l1"}]).decode().encode("latin-1")
BOGUS = GOOD.replace(b'encoding="UTF-8"', b'encoding="x-no-such-charset"')


@dataclass
class Case:
    """One hostile endpoint: what it serves and what the poll must report."""

    name: str
    serve: dict[str, Any]
    reason: str | None  # substring of the logged error; None: the feed must parse
    outcome: Outcome = Outcome.ERROR  # what the fetch was (a fetched non-feed is OK + error)
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("gzip-bomb", {"body": b"", "headers": {"Content-Encoding": "gzip"}},
         f"body over {CAP} bytes"),
    Case("billion-laughs", {"body": hs.billion_laughs()}, "declares entities", Outcome.OK),
    Case("entity-blowup", {"body": hs.quadratic_blowup()}, "declares entities", Outcome.OK),
    Case("external-entity", {"body": hs.external_entity()}, "declares entities", Outcome.OK),
    Case("trickle-body", {"body": b"", "behaviour": hs.trickle_body()},
         f"no complete answer within {DEADLINE:g}s"),
    Case("trickle-headers", {"body": b"", "behaviour": hs.trickle_headers()},
         f"no complete answer within {DEADLINE:g}s"),
    Case("redirect-loop", {"body": b"", "status": 302, "headers": {"Location": "/redirect-loop"}},
         "more than 5 redirects"),
    Case("50mb-unsized", {"body": b"", "behaviour": hs.endless()}, f"body over {CAP} bytes"),
    Case("50mb-declared", {"body": b"", "behaviour": hs.endless(declared=True)},
         f"body over {CAP} bytes"),
    Case("html-page", {"body": HTML, "content_type": "text/html; charset=utf-8"},
         "not a feed", Outcome.OK),
    Case("garbage", {"body": hs.garbage(), "content_type": "application/octet-stream"},
         "not a feed", Outcome.OK),
    Case("empty", {"body": b""}, "not a feed", Outcome.OK),
    Case("latin1-says-utf8", {"body": LATIN1}, None, Outcome.OK),
    Case("bogus-charset", {"body": BOGUS}, None, Outcome.OK),
    Case("gone-410", {"body": b"gone", "status": 410}, "HTTP 410", Outcome.GONE),
    Case("429-retry-after", {"body": b"", "status": 429, "headers": {"Retry-After": "120"}},
         "HTTP 429", Outcome.RATE_LIMITED, {"floor": 120}),
    Case("503-retry-date", {"body": b"", "status": 503}, "HTTP 503", Outcome.RATE_LIMITED,
         {"floor": 3000}),
]
FIGURES = ROBUST_FIGURES.setdefault(
    "hostile endpoint: hang (s), peak traced memory (MB)", {})


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        for case in CASES:
            kwargs = dict(case.serve)
            if case.name == "gzip-bomb":
                kwargs["body"] = hs.gzip_bomb()
            if case.name == "503-retry-date":
                kwargs["headers"] = {"Retry-After": hs.retry_after_date(3600)}
            fs.serve(f"/{case.name}", **kwargs)
        yield fs


@pytest.fixture(scope="module")
def app(server: FeedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("hostile")
    feeds = [{"name": c.name, "url": server.url(f"/{c.name}")} for c in CASES]
    feeds.append({"name": "good", "url": server.serve("/good", GOOD)})
    path = write_config(tmp, feeds, fetch={"total_timeout": f"{DEADLINE:g}s",
                                          "connect_timeout": "1s"})
    config = load_config(path)
    db = SqliteStore.open(config.settings.state_path)
    app = App(LiveConfig(config), db, HttpFetcher(SYSTEM_CLOCK, config.settings.fetch.limits),
              ConsoleNotifier(io.StringIO()))
    yield app
    app.close()


def _feed(app: App, name: str) -> Any:
    return next(f for f in app.config.feeds if f.name == name)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_feed_is_bounded_and_logged_once(
    app: App, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    feed = _feed(app, case.name)
    caplog.set_level(logging.INFO, logger="chipwatch")
    tracemalloc.start()
    started = SYSTEM_CLOCK.monotonic()
    report = poll(app, feed, force=True)
    hang = SYSTEM_CLOCK.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    FIGURES[case.name] = (f"{hang:6.2f}", f"{peak / 1e6:7.1f}")

    assert report is not None, "poll raised (logged as poll_failed)"
    assert hang < DEADLINE + SLACK, f"{case.name} hung {hang:.1f}s"
    assert peak < 4 * CAP, f"{case.name} peaked at {peak / 1e6:.0f} MB"
    assert report.outcome is case.outcome
    lines = [r.getMessage() for r in caplog.records
             if r.name == "chipwatch.poll" and f"feed={case.name} " in r.getMessage()]
    if case.reason is None:
        assert report.error is None and report.items == 1, report
        assert lines and lines[0].startswith("feed_polled")
        return
    assert report.error is not None and case.reason in report.error, report.error
    assert len(lines) == 1 and lines[0].startswith("feed_error"), lines
    assert case.reason in lines[0]
    if "floor" in case.extra:
        with app.db.lock:
            due = feed_store.load_state(app.db.conn, case.name).next_due
        assert due is not None
        assert due - SYSTEM_CLOCK.now() > timedelta(seconds=case.extra["floor"] - 5)


def test_gone_and_rate_limited_feeds_are_not_polled_again(
    app: App, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chipwatch")
    for name in ("gone-410", "429-retry-after", "503-retry-date"):
        before = server.requests[f"/{name}"]
        poll(app, _feed(app, name))  # on schedule: the stored state says not yet (or never)
        assert server.requests[f"/{name}"] == before, name
    assert not [r for r in caplog.records if "feed=gone-410" in r.getMessage()]


def test_all_hostile_feeds_at_once_leave_the_good_one_working(
    app: App, tmp_path: Path
) -> None:
    """One concurrent pass over every endpoint: bounded by one deadline, the good feed alerts."""
    started = SYSTEM_CLOCK.monotonic()
    reports = {r.feed: r for r in app.run_once()}
    took = SYSTEM_CLOCK.monotonic() - started
    FIGURES["(all at once, concurrent)"] = (f"{took:6.2f}", "")
    assert took < DEADLINE + 2 * SLACK
    assert reports["good"].error is None
    assert "gone-410" not in reports  # stopped polling
    assert all(r.error for n, r in reports.items() if n in {
        c.name for c in CASES if c.reason and c.outcome is not Outcome.GONE})


@pytest.mark.parametrize(("body", "refused"), [
    (b"<?xml version='1.0'?>" + b"<!-- pad -->" * 400_000
     + b"<!DOCTYPE rss [<!ENTITY a 'b'>]><rss/>", True),   # declarations after a long prolog
    ("<?xml version='1.0' encoding='utf-16'?><!DOCTYPE r [<!ENTITY a 'b'>]><rss/>"
     .encode("utf-16"), True),                               # UTF-16 is screened too
    (b"<!DOCTYPE rss PUBLIC '-//Netscape Communications//DTD RSS 0.91//EN' "
     b"'http://my.netscape.com/publish/formats/rss-0.91.dtd'><rss/>", False),  # RSS 0.91
    (b"<rss><channel><title>&lt;!ENTITY in text&gt;</title></channel></rss>", False),
])
def test_entity_screen(body: bytes, refused: bool) -> None:
    from bot.feeds.adapter import declares_entities

    assert declares_entities(body) is refused
