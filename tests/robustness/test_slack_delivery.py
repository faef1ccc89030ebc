"""The sender against a fault-injecting fake Slack through the real slack_sdk WebClient.

Pace per channel, Retry-After, outages with backoff while polling goes on, dead letters,
conversations.join, recovery of rows a crash left in flight, and the token kept out of output.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import SYSTEM_CLOCK, Clock, FakeClock
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.deliver import DrainReport, Sender
from bot.feeds import HttpFetcher
from bot.slack.blocks import Message
from bot.slack.notifier import SlackNotifier
from bot.store import SqliteStore, outbox
from tests.conftest import TOKEN, run_cli, slack_env, write_config
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.feed_server import FeedServer
from tests.support.util import poll, rss


def _sender(tmp_path: Path, slack: FakeSlack, interval: float = 0.0,
            clock: Clock = SYSTEM_CLOCK, token: str = TOKEN) -> tuple[SqliteStore, Sender]:
    db = SqliteStore.open(tmp_path / "state.db")
    return db, Sender(db, SlackNotifier(token, slack.base_url, timeout=5), clock, interval)


def _enqueue(db: SqliteStore, channel: str, n: int, start: int = 0,
             clock: Clock = SYSTEM_CLOCK, header: str | None = None) -> None:
    with db.tx() as conn:
        for i in range(start, start + n):
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"alert {i}"}}]
            if header is not None:
                blocks.insert(0, {"type": "header", "text": {"type": "plain_text",
                                                             "text": header}})
            outbox.enqueue(conn, f"alert|s{i}|{channel}", channel, "alert",
                           Message(f"alert {i}", blocks), clock.now(), f"s{i}", f"i{i}")


def _texts(slack: FakeSlack, channel: str) -> list[str]:
    return [m["text"] for m in slack.state.top_level(channel)]


def _post_times(slack: FakeSlack, channel: str) -> list[float]:
    return [t for (method, args), t in zip(slack.state.calls, slack.state.times, strict=True)
            if method == "chat.postMessage" and args.get("channel") == channel]


@pytest.mark.slow  # real waits (timeouts, Retry-After, pacing) or a subprocess
def test_each_channel_is_paced_and_kept_in_order(tmp_path: Path, fake_slack: FakeSlack) -> None:
    db, sender = _sender(tmp_path, fake_slack, interval=0.2)
    channels = ["#a", "#b", "#c", "#d"]
    for ch in channels:
        _enqueue(db, ch, 5)
    report = sender.drain(max_wait=5)
    assert report.sent == 20 and report.failed == 0
    for ch in channels:
        assert _texts(fake_slack, ch) == [f"alert {i}" for i in range(5)]
        times = _post_times(fake_slack, ch)
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.15


@pytest.mark.slow  # real waits (timeouts, Retry-After, pacing) or a subprocess
def test_retry_after_is_honoured_for_that_channel_only(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    db, sender = _sender(tmp_path, fake_slack)
    fake_slack.state.faults.append(Fault(status=429, retry_after=3, method="chat.postMessage",
                                         channel="#a"))
    _enqueue(db, "#a", 3)
    _enqueue(db, "#b", 2)
    report = sender.drain(max_wait=10)
    assert report.sent == 5 and report.failed == 1
    assert _texts(fake_slack, "#a") == ["alert 0", "alert 1", "alert 2"]  # none dropped
    refused, *retries = _post_times(fake_slack, "#a")
    assert retries[0] - refused >= 2.9  # waited as told
    assert max(_post_times(fake_slack, "#b")) < retries[0]  # #b went on meanwhile


@pytest.mark.slow  # real waits (timeouts, Retry-After, pacing) or a subprocess
def test_outage_backs_off_while_polling_goes_on_then_delivers_in_order(
    tmp_path: Path, fake_slack: FakeSlack, feed_server: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chipwatch")
    clock = FakeClock()
    items: list[dict[str, str]] = []
    url = feed_server.serve("/f.rss", rss(items))
    config = load_config(write_config(tmp_path, [{"name": "f", "url": url}],
                                      slack_url=fake_slack.base_url))
    db = SqliteStore.open(config.settings.state_path)
    app = App(LiveConfig(config), db, HttpFetcher(clock), SlackNotifier(TOKEN, fake_slack.base_url,
              5),
              clock)
    fake_slack.state.sticky.append(Fault(status=503, error="service_unavailable"))
    for batch in range(3):
        items += [{"title": f"China approves H200 imports, batch {n}",
                   "link": f"https://e.com/{n}"} for n in range(batch * 3, batch * 3 + 3)]
        feed_server.serve("/f.rss", rss(items))
        report = poll(app, config.feeds[0], force=True)
        assert report is not None and report.alerts == 3
        app.sender.drain(max_wait=0)
        clock.advance(2.5 * 2 ** batch)  # past the first backoffs, not the later ones
    with db.lock:
        assert outbox.counts(db.conn) == {"pending": 18}
    assert not fake_slack.state.messages
    delays = [float(m) for m in re.findall(r"key=alert\|https://e\.com/0\|#chip-alerts "
                                           r"attempt=\d+ in=([\d.]+)s", caplog.text)]
    assert len(delays) >= 2 and 1.6 <= delays[0] <= 2.4
    assert all(b > a for a, b in itertools.pairwise(delays))  # exponential

    fake_slack.state.sticky.clear()
    clock.advance(timedelta(minutes=11))
    while app.sender.drain(max_wait=0).sent:
        pass
    expected = [f"China approves H200 imports, batch {n}" for n in range(9)]
    for channel in ("#chip-alerts", "#chip-firehose"):
        got = [m["blocks"][0]["text"]["text"] for m in fake_slack.state.top_level(channel)]
        assert got == expected, channel
    app.close()


def test_permanent_errors_go_to_dead_letters_after_one_line(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chipwatch")
    db, sender = _sender(tmp_path, fake_slack)
    state = fake_slack.state
    state.sticky.append(Fault(error="channel_not_found", channel="#gone"))
    state.sticky.append(Fault(error="not_in_channel", method="chat.postMessage",
                              channel="#private"))
    state.sticky.append(Fault(error="method_not_supported_for_channel_type",
                              method="conversations.join", channel="#private"))
    state.faults.append(Fault(error="not_in_channel", method="chat.postMessage",
                              channel="#public"))
    _enqueue(db, "#gone", 1)
    _enqueue(db, "#private", 1, start=10)
    _enqueue(db, "#bad", 1, start=20, header="x" * 200)  # over Slack's 150: invalid_blocks
    _enqueue(db, "#public", 1, start=30)
    report = sender.drain(max_wait=2)
    assert report.dead == 3 and report.sent == 1
    assert _texts(fake_slack, "#public") == ["alert 30"]  # joined, then delivered
    joins = [a["channel"] for m, a in state.calls if m == "conversations.join"]
    assert sorted(joins) == ["#private", "#public"]  # once each
    dead = [r.getMessage() for r in caplog.records if "slack_dead_letter" in r.getMessage()]
    assert len(dead) == 3
    assert {re.search(r"error=slack chat.postMessage: (\w+)", d)[1] for d in dead} == {  # type: ignore[index]
        "channel_not_found", "not_in_channel", "invalid_blocks"}
    calls = len(state.calls)
    assert sender.drain(max_wait=2).sent == 0 and len(state.calls) == calls  # no looping
    with db.lock:
        assert outbox.counts(db.conn) == {"dead": 3, "sent": 1}


def test_a_refused_token_holds_every_row_and_says_so_once(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong token is caught at start-up (auth.test): nothing is dead-lettered, every row
    stays pending for when the token is fixed, one log line, and the token never shows."""
    caplog.set_level(logging.DEBUG)
    wrong = "xoxb-1234-wrong-T0KENVALUE"
    db, sender = _sender(tmp_path, fake_slack, token=wrong)
    _parent(db, SYSTEM_CLOCK, "#a")
    _replies_queued(db, SYSTEM_CLOCK, "#a", 2)
    _enqueue(db, "#b", 3)
    sender.recover()
    assert sender.halted == "invalid_auth"
    for _ in range(3):
        assert sender.drain(max_wait=2) == DrainReport()  # nothing at all
    assert [m for m, _ in fake_slack.state.calls] == ["auth.test"]
    with db.lock:
        rows = db.conn.execute("SELECT state, attempts FROM outbox").fetchall()
    assert [tuple(r) for r in rows] == [("pending", 0)] * 6
    refused = [r for r in caplog.records if "slack_token_refused" in r.getMessage()]
    assert len(refused) == 1 and "pending=6" in refused[0].getMessage()
    assert "T0KENVALUE" not in caplog.text


def test_a_token_revoked_while_running_stops_sending_and_tells_ops_once(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chipwatch")
    db = SqliteStore.open(tmp_path / "state.db")
    notices: list[str] = []
    sender = Sender(db, SlackNotifier(TOKEN, fake_slack.base_url, timeout=5), SYSTEM_CLOCK, 0.0,
                    on_halt=notices.append)
    _enqueue(db, "#a", 2)
    sender.recover()
    assert sender.halted is None and sender.drain(max_wait=0).sent == 2
    fake_slack.state.sticky.append(Fault(error="token_revoked"))
    _enqueue(db, "#a", 5, start=2)
    _enqueue(db, "#b", 5, start=7)
    for _ in range(3):
        report = sender.drain(max_wait=0)
        assert report.dead == 0 and report.sent == 0
    assert sender.halted == "token_revoked"
    posts = [m for m, _ in fake_slack.state.calls if m == "chat.postMessage"]
    assert len(posts) == 3  # two delivered, one refused; then nothing more was tried
    with db.lock:
        assert outbox.counts(db.conn) == {"sent": 2, "pending": 10}
    assert len(notices) == 1 and "token_revoked" in notices[0] and "10 messages" in notices[0]
    assert caplog.text.count("slack_token_refused") == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("trouble", [
    "unreachable", "server_errors", pytest.param("timeout", marks=pytest.mark.slow)])
def test_transient_failures_keep_the_token_out_of_logs_and_errors(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, trouble: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, slack_sdk's own debug lines included
    db = SqliteStore.open(tmp_path / "state.db")
    url = fake_slack.base_url
    if trouble == "unreachable":
        url = f"http://127.0.0.1:{_closed_port()}/api/"
    elif trouble == "server_errors":
        fake_slack.state.sticky.append(Fault(status=500, error="internal_error"))
    else:
        fake_slack.state.sticky.append(Fault(delay=3))
    sender = Sender(db, SlackNotifier(TOKEN, url, timeout=1), SYSTEM_CLOCK, 0.0)
    _enqueue(db, "#a", 1)
    assert sender.drain(max_wait=0).failed == 1
    with db.lock:
        (state, error), = db.conn.execute("SELECT state, error FROM outbox").fetchall()
    assert state == "pending" and error
    assert TOKEN not in caplog.text + error
    assert TOKEN.split("-")[-1] not in caplog.text + error


@pytest.mark.slow  # real waits (timeouts, Retry-After, pacing) or a subprocess
def test_no_output_of_a_failing_run_contains_the_token(
    tmp_path: Path, fake_slack: FakeSlack, feed_server: FeedServer
) -> None:
    items = [{"title": "China approves H200 imports", "link": "https://e.com/1"}]
    config = write_config(tmp_path, [{"name": "f", "url": feed_server.serve("/f", rss(items))}])
    env = slack_env(fake_slack)
    env["SLACK_BOT_TOKEN"] = "xoxb-777-SECRETSECRET"  # the fake refuses any other token
    run = run_cli("--log-level", "debug", "run", "--once", "--config", str(config), env=env)
    out = run.stdout + run.stderr + (tmp_path / "state" / "chipwatch.db").read_bytes().decode(
        "latin-1")
    assert run.returncode == 1, run.stderr  # a run that could send nothing is no success
    assert "SECRETSECRET" not in out
    assert run.stderr.count("slack_token_refused error=slack auth_test: invalid_auth") == 1
    assert "slack_dead_letter" not in run.stderr


def test_a_post_that_reached_slack_before_the_crash_is_not_repeated(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The state a SIGKILL between Slack's ok and our commit leaves: a row in flight whose
    message is in the channel. A new sender finds it by its key and does not post again."""
    caplog.set_level(logging.INFO, logger="chipwatch")
    clock = FakeClock(SYSTEM_CLOCK.now())
    db, first = _sender(tmp_path, fake_slack, clock=clock)
    _enqueue(db, "#new-channel", 3, clock=clock)  # never posted to: no id known locally
    _enqueue(db, "#other", 1, start=9, clock=clock)
    with db.lock:
        (row0, _), (row1, _) = [(r, d) for r, d in outbox.pending(db.conn)][:2]
    with db.tx() as conn:
        for row in (row0, row1):
            outbox.mark(conn, row.id, "inflight", now=clock.now(), next_attempt=clock.now())
    first.notifier.post(row0.channel, row0.message, row0.key)  # reached Slack, then "killed"
    db.close()

    fake_slack.state.sticky.append(Fault(status=503, error="down",
                                         method="conversations.history"))
    db, second = _sender(tmp_path, fake_slack, clock=clock)
    second.recover()  # Slack cannot tell: the channel waits, the others go on
    second.drain(max_wait=0)
    assert _texts(fake_slack, "#other") == ["alert 9"]
    assert _texts(fake_slack, "#new-channel") == ["alert 0"]
    assert "outbox_recover_failed channel=#new-channel" in caplog.text

    fake_slack.state.sticky.clear()
    clock.advance(timedelta(minutes=11))
    second.drain(max_wait=0)
    assert _texts(fake_slack, "#new-channel") == ["alert 0", "alert 1", "alert 2"]
    assert "outbox_recovered channel=#new-channel key=alert|s0|#new-channel" in caplog.text
    with db.lock:
        assert outbox.counts(db.conn) == {"sent": 4}
    db.close()


def test_console_notifier_needs_no_recovery(tmp_path: Path) -> None:
    from bot.slack.notifier import ConsoleNotifier

    db = SqliteStore.open(tmp_path / "s.db")
    _enqueue(db, "#a", 2)
    out = io.StringIO()
    sender = Sender(db, ConsoleNotifier(out), SYSTEM_CLOCK, 0.0)
    sender.recover()
    assert sender.drain(max_wait=0).sent == 2 and out.getvalue().count("alert") == 2


@pytest.mark.slow  # real waits (timeouts, Retry-After, pacing) or a subprocess
def test_a_post_whose_answer_timed_out_is_looked_up_before_a_retry(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """Slack took the message but answered after our timeout: the retry must not repeat it."""
    db = SqliteStore.open(tmp_path / "state.db")
    sender = Sender(db, SlackNotifier(TOKEN, fake_slack.base_url, timeout=1), SYSTEM_CLOCK, 0.0)
    fake_slack.state.faults.append(Fault(method="chat.postMessage", slow_answer=2.5))
    _enqueue(db, "#a", 2)
    first = sender.drain(max_wait=0)
    assert first.failed == 1 and _texts(fake_slack, "#a") == ["alert 0"]
    while sender.drain(max_wait=5).sent:
        pass
    assert _texts(fake_slack, "#a") == ["alert 0", "alert 1"]
    with db.lock:
        assert outbox.counts(db.conn) == {"sent": 2}


def _parent(db: SqliteStore, clock: Clock, channel: str) -> None:
    """A story's parent alert in `channel`."""
    with db.tx() as conn:
        parent = Message("parent", [{"type": "section",
                                     "text": {"type": "mrkdwn", "text": "parent"}}])
        row = outbox.enqueue(conn, f"alert|s1|{channel}", channel, "alert", parent, clock.now(),
                             "s1", "i0")
        assert row is not None
        outbox.set_parent(conn, "s1", channel, row)


def _replies_queued(db: SqliteStore, clock: Clock, channel: str, n: int) -> None:
    """`n` later reports of the story, for the parent's thread."""
    with db.tx() as conn:
        for i in range(1, n + 1):
            outbox.enqueue(conn, f"reply|i{i}|{channel}", channel, "reply",
                           Message(f"reply {i}"), clock.now(), "s1", f"i{i}")


def _replies(slack: FakeSlack, channel: str) -> list[str]:
    parent, = slack.state.top_level(channel)
    return [m["text"] for m in slack.state.replies(channel, parent["ts"])]


def test_a_thread_reply_that_reached_slack_before_the_crash_is_not_repeated(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's history holds no thread replies: a reply left in flight is looked up in its
    thread (conversations.replies), else it would be posted twice."""
    caplog.set_level(logging.INFO, logger="chipwatch")
    clock = FakeClock(SYSTEM_CLOCK.now())
    db, first = _sender(tmp_path, fake_slack, clock=clock)
    _parent(db, clock, "#a")
    assert first.drain(max_wait=0).sent == 1
    _replies_queued(db, clock, "#a", 2)
    with db.lock:
        (reply, _), _ = outbox.pending(db.conn)
    assert reply.thread_ts
    with db.tx() as conn:
        outbox.mark(conn, reply.id, "inflight", now=clock.now(), next_attempt=clock.now())
    first.notifier.post(reply.channel, reply.message, reply.key, thread_ts=reply.thread_ts)
    db.close()  # "killed" between Slack's ok and our commit

    db, second = _sender(tmp_path, fake_slack, clock=clock)
    second.recover()
    second.drain(max_wait=0)
    assert _replies(fake_slack, "#a") == ["reply 1", "reply 2"]
    assert "outbox_recovered channel=#a key=reply|i1|#a" in caplog.text
    with db.lock:
        assert outbox.counts(db.conn) == {"sent": 3}
    db.close()


@pytest.mark.slow  # real waits (timeouts, Retry-After, pacing) or a subprocess
def test_a_thread_reply_whose_answer_timed_out_is_looked_up_in_its_thread(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    db = SqliteStore.open(tmp_path / "state.db")
    sender = Sender(db, SlackNotifier(TOKEN, fake_slack.base_url, timeout=1), SYSTEM_CLOCK, 0.0)
    _parent(db, SYSTEM_CLOCK, "#a")
    assert sender.drain(max_wait=0).sent == 1
    _replies_queued(db, SYSTEM_CLOCK, "#a", 1)
    fake_slack.state.faults.append(Fault(method="chat.postMessage", slow_answer=2.5))
    assert sender.drain(max_wait=0).failed == 1  # Slack took it; the answer came too late
    while sender.drain(max_wait=5).sent:
        pass
    assert _replies(fake_slack, "#a") == ["reply 1"]
    with db.lock:
        assert outbox.counts(db.conn) == {"sent": 2}
