"""Crash safety: `python -m bot run` as a subprocess, SIGKILLed at seeded random moments.

Two feeds gain items over time, and two more carry the same headlines under other links, so
every story gets thread replies; the fake Slack answers posts slowly *after* recording them,
so kills land between Slack's ok and our commit; the feed server is slow too, so kills land
mid-fetch. Kills are timed by events, not by a clock: a third land at a random moment from
the spawn (start-up included), a third at a random moment once the bot has started, and a
third as soon as Slack has done a post whose answer the bot still waits for. The test asserts
that this last window was hit and that a later life recovered such a post (found it in Slack
instead of posting again). After every kill the bot is restarted. At the end every expected
alert must be in Slack, no message (parent or reply) twice, and the SQLite file must pass
`PRAGMA integrity_check`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK
from tests.conftest import REPO, TEST_RULES, slack_env, write_config
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.feed_server import FeedServer
from tests.support.figures import FIGURES
from tests.support.util import GrowingFeed, wait_for

SEED = 20260128
KILLS = 22
PER_FEED = 20
GROW_EVERY = 0.6  # seconds per new item in each feed
CHANNELS = ("#chip-alerts", "#policy", "#chip-firehose")
pytestmark = pytest.mark.slow



def _items(feed: str, site: str | None = None) -> list[dict[str, str]]:
    """The feed's headlines; `site` publishes the same headlines under its own links."""
    site = site or feed
    out = []
    for n in range(PER_FEED):
        title = (f"China approves H200 imports for {feed} buyer {n}" if n % 3
                 else f"US adds {feed} firm {n} to entity list over chip exports")
        out.append({"title": title, "link": f"https://{site}.example.com/{n}",
                    "guid": f"{site}-{n}"})
    return out


def _expected(feeds: list[GrowingFeed]) -> set[tuple[str, str]]:
    want: set[tuple[str, str]] = set()
    for f in feeds:
        for it in f.items:
            first = "#chip-alerts" if "H200" in it["title"] else "#policy"
            want |= {(first, it["title"]), ("#chip-firehose", it["title"])}
    return want


def _posted(slack: FakeSlack) -> tuple[set[tuple[str, str]], Counter[str], int]:
    """(channel, headline) of every parent and reply in Slack, how often each outbox key was
    posted (a message's metadata carries its key), and how many replies there are."""
    got: set[tuple[str, str]] = set()
    keys: Counter[str] = Counter()
    replies = 0
    for channel in CHANNELS:
        for m in slack.state.messages.get(slack.state.channel_id(channel), []):
            keys[m["metadata"]["event_payload"]["key"]] += 1
            if m.get("thread_ts"):
                replies += 1
                got.add((channel, m["text"].split(": ", 1)[1]))
            else:
                got.add((channel, m["blocks"][0]["text"]["text"]))
    return got, keys, replies


def _undelivered(tmp_path: Path) -> int:
    """Outbox rows not yet sent (the bot's state file, read beside it)."""
    db = sqlite3.connect(f"file:{tmp_path / 'state' / 'chipwatch.db'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state != 'sent'").fetchone()[0])
    except sqlite3.Error:
        return -1  # not there yet (or busy): not known to be empty
    finally:
        db.close()


def _lives(log: Path) -> int:
    """How many lives of the bot got as far as their `started` line."""
    return log.read_text(errors="replace").count(" started feeds=") if log.exists() else 0


def _kill_moment(n: int, proc: subprocess.Popen[bytes], log: Path, lives: int,
                 slack: FakeSlack, rng: random.Random) -> None:
    """Wait for the moment of the `n`-th kill (see the module docstring); `lives` is how
    many `started` lines the log held before this one was spawned."""
    if n % 3 == 0:
        threading.Event().wait(rng.uniform(0.3, 1.6))
        return
    assert wait_for(lambda: _lives(log) > lives or proc.poll() is not None,
                    timeout=60, every=0.02), "the bot never started"
    if n % 3 == 1:
        threading.Event().wait(rng.uniform(0.0, 1.0))
    else:  # a post done in Slack, its answer not yet read: the kill window that matters
        wait_for(lambda: slack.state.answering > 0, timeout=3, every=0.002)


def _start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL")}
    full.update(env, PYTHONPATH=str(REPO))
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                stdout=out, stderr=out, env=full, cwd=REPO)


def test_sigkill_at_random_moments_loses_and_repeats_nothing(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    rng = random.Random(SEED)
    feeds = [GrowingFeed(name, _items(name), GROW_EVERY) for name in ("wire", "desk")]
    mirrors = [GrowingFeed(f"{f.name}-mirror", _items(f.name, f"{f.name}-mirror"), GROW_EVERY)
               for f in feeds]
    with FeedServer(latency=0.05) as server:
        for f in feeds + mirrors:
            server.serve(f"/{f.name}.rss", b"", behaviour=f.behaviour)
        config = write_config(
            tmp_path, [{"name": f.name, "url": server.url(f"/{f.name}.rss")}
                       for f in feeds + mirrors],
            slack_url=fake_slack.base_url,
            defaults={"interval": "1s", "max_age": "3650d", "jitter": "0s"},
            **{k: TEST_RULES[k] for k in ("rules",)})
        # Posts are recorded at once but answered late: the kill window between ok and commit.
        fake_slack.state.sticky.append(Fault(method="chat.postMessage", slow_answer=0.12))
        env = slack_env(fake_slack)
        log = tmp_path / "bot.log"
        crashes = in_window = 0
        started = SYSTEM_CLOCK.monotonic()
        for n in range(KILLS):
            lives = _lives(log)
            proc = _start(config, env, log)
            _kill_moment(n, proc, log, lives, fake_slack, rng)
            if proc.poll() is not None:
                crashes += 1  # it died by itself: that is a crash
            with fake_slack.state.lock:
                in_window += fake_slack.state.answering > 0
                proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills_took = SYSTEM_CLOCK.monotonic() - started

        # The last life: runs until everything the feeds will ever hold is in Slack and the
        # outbox has stayed empty for two polls (the mirrors' replies come after the alerts).
        want = _expected(feeds)
        proc = _start(config, env, log)
        deadline = SYSTEM_CLOCK.monotonic() + 60
        quiet_since: float | None = None
        while SYSTEM_CLOCK.monotonic() < deadline and proc.poll() is None:
            now = SYSTEM_CLOCK.monotonic()
            if (_posted(fake_slack)[0] >= want and not _undelivered(tmp_path)
                    and all(f.visible() == PER_FEED for f in feeds + mirrors)):
                quiet_since = now if quiet_since is None else quiet_since
                if now - quiet_since >= 2.5:
                    break
            else:
                quiet_since = None
            threading.Event().wait(0.3)
        crashes += proc.poll() is not None
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    got, keys, replies = _posted(fake_slack)
    lost = len(want - got)
    dupes = sum(n - 1 for n in keys.values() if n > 1)
    unexpected = got - want
    output = log.read_text(errors="replace")
    FIGURES.setdefault("crash test (SIGKILL)", {}).update({
        "kills": (KILLS,), "expected alerts": (len(want),), "thread replies": (replies,),
        "lost": (lost,), "duplicates": (dupes,), "crashes": (crashes,),
        "kill phase (s)": (f"{kills_took:.1f}",),
        "killed awaiting Slack's answer": (in_window,),
        "recovered in flight": (output.count("outbox_recovered"),),
    })
    # The windows that matter were hit, not only start-up: a kill while Slack's answer to a
    # post was on its way, and a later life that found such a post instead of re-posting.
    assert in_window >= 2, in_window
    assert "outbox_recovered" in output
    assert lost == 0, sorted(want - got)[:5]
    assert dupes == 0, [k for k, n in keys.items() if n > 1][:5]
    assert replies >= len(want) // 2  # the mirrors' reports went to threads
    assert not unexpected
    assert crashes == 0 and "Traceback" not in output, output[-3000:]
    db = sqlite3.connect(tmp_path / "state" / "chipwatch.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        states = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    finally:
        db.close()
    assert set(states) == {"sent"} and states["sent"] >= sum(keys.values())
