"""The reloader in-process: what counts as a change, atomic swaps, one notice per bad edit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.app import App
from bot.clock import FakeClock
from bot.config import Config, load_config
from bot.digest import flush
from bot.runtime.duties import reschedule
from bot.runtime.reload import Reloader
from bot.store import outbox
from tests.conftest import FEEDS, write_config

FEED = {"name": "chip", "url": str(FEEDS / "chip-news.rss")}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = load_config(write_config(tmp_path, [FEED], ops_channel="#ops"))
    app = App.build(config, env={}, clock=FakeClock(datetime(2026, 1, 28, 12, tzinfo=UTC)))
    yield app
    app.close()


def _reloader(app: App) -> tuple[Reloader, BackgroundScheduler]:
    # Not started and not installed: no threads, no SIGHUP handler in the test process.
    scheduler = BackgroundScheduler(timezone="UTC")

    def on_swap(old: Config, new: Config) -> None:
        reschedule(scheduler, lambda feed: None, old, new, app)

    return Reloader(app.live, app.db, app.clock, app.wake, on_swap), scheduler


def _notices(app: App) -> list[str]:
    return [r["key"] for r in app.db.read("SELECT key FROM outbox WHERE kind = 'notice'")]


def test_a_touch_is_not_a_change_and_edits_settle_first(app: App) -> None:
    reloader, _ = _reloader(app)
    path = app.config.path
    before = app.config
    path.write_text(path.read_text())  # same bytes, new mtime
    reloader.check()
    reloader.check()
    assert app.config is before
    path.write_text(path.read_text().replace("#chip-firehose", "#firehose"))
    reloader.check()  # first sight of the change: wait for the writer to finish
    assert app.config is before
    reloader.check()
    assert app.config is not before
    assert [r.channel for r in app.config.routes][-1] == "#firehose"


def test_swap_reschedules_feeds_and_swaps_every_holder(app: App, tmp_path: Path) -> None:
    reloader, scheduler = _reloader(app)
    other = {"name": "guardian", "url": str(FEEDS / "guardian.rss")}
    write_config(tmp_path, [{**FEED, "interval": "5m"}, other], ops_channel="#ops")
    assert reloader.reload()
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"feed:chip", "feed:guardian"}
    assert jobs["feed:chip"].args[0].interval == timedelta(minutes=5)
    poller = getattr(app, "poller", None)
    if poller is not None:
        assert poller.config is app.config
    write_config(tmp_path, [other], ops_channel="#ops")
    assert reloader.reload()
    assert {j.id for j in scheduler.get_jobs()} == {"feed:guardian"}


def test_bad_edits_keep_the_last_good_config_and_notify_once_each(
    app: App, tmp_path: Path
) -> None:
    reloader, _ = _reloader(app)
    good = app.config
    path = good.path
    text = path.read_text()
    path.write_text(text + "bogus: 1\n")
    assert not reloader.reload()
    assert not reloader.reload()  # the same bad content again (a SIGHUP): no second notice
    assert app.config is good
    assert len(_notices(app)) == 1
    path.write_text(text.replace("severity: high", "severity: huge"))
    assert not reloader.reload()  # a different bad edit: its own notice
    path.unlink()
    assert not reloader.reload()  # a vanished file is a bad edit too
    notices = _notices(app)
    assert len(notices) == 3 and app.config is good
    message = outbox.pending(app.db.conn)[-1][0].message
    assert "cannot read config" in str(message.blocks)


def test_an_emptied_config_is_refused_and_the_last_good_kept(app: App) -> None:
    # `: > live.yaml` under a running bot: an error, as at `check` and at start-up.
    reloader, _ = _reloader(app)
    good = app.config
    good.path.write_text("")
    assert not reloader.reload()
    assert app.config is good
    message = outbox.pending(app.db.conn)[-1][0].message
    assert "the config is empty: it needs `feeds`, `rules` and `routes`" in str(message.blocks)


def test_reload_refuses_what_check_refuses(app: App, tmp_path: Path) -> None:
    from bot.config.validate import validate

    reloader, _ = _reloader(app)
    good = app.config
    rule = {"id": "r", "tags": ["nvidia"], "any": ["H200"],
            "examples": {"match": ["China allows H20 sales"]}}
    path = write_config(tmp_path, [FEED], ops_channel="#ops", rules=[rule])
    assert not reloader.reload()
    assert app.config is good
    expected = [str(p) for p in validate(path).errors]
    assert expected and "should match 'China allows H20 sales'" in expected[0]
    body = outbox.pending(app.db.conn)[-1][0].message.blocks[1]["text"]["text"]
    assert all(line in body for line in expected), body


def test_entries_of_a_channel_no_longer_digested_go_out_at_once(app: App) -> None:
    from bot.digest import add_entry
    from bot.models import Item, Match, RuleHit, Severity

    now = app.clock.now()
    item = Item("i1", "chip", "US bans chip exports", "https://x.example/1", "", now, now, "W")
    with app.db.tx() as conn:
        add_entry(conn, "#digest", item, Match((RuleHit("r", ()),), frozenset(), Severity.LOW),
                  None, now)
    assert flush(app.db, [], now + timedelta(seconds=1)) == 1  # no digest route any more
    rows = app.db.read("SELECT channel, kind FROM outbox")
    assert [tuple(r) for r in rows] == [("#digest", "digest")]
