"""PostgreSQL going away under two replicas, on loopback: a server of the test's own, stopped
(`pg_ctl stop`, fast) and started again on the same data directory at the moments that
matter, and connections cut or a COMMIT's answer lost (a proxy between the bot and the
server reads the wire protocol, see tests/support/pgproxy.py).

Both replicas start together on an empty database (the first migration is serialised:
neither exits). Feeds publish all along and a mirror brings thread replies. Disruptions:

- the server stops while a batch's transaction waits on its `INSERT INTO items`;
- the server stops right after it committed a batch whose answer the bot never gets;
- a batch's COMMIT answer is lost (connection cut after the commit), server up;
- a connection is cut inside a batch (at `INSERT INTO outbox`), server up;
- the server stops while a post awaits Slack's answer (the sender's mark-sent fails);
- a sender's outbox update is committed and its answer lost.

While the server is down every replica answers /healthz 503 `database_unavailable` and
`chipwatch health` exits 1 saying so; after it returns one replica leads again within
`ha.failover` (plus the standby's one-second try), and at the end every alert is in Slack
exactly once, in outbox order per channel, and every item alerted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import REPO, TEST_RULES, slack_env, write_config
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.feed_server import FeedServer
from tests.support.figures import FIGURES
from tests.support.pgctl import OwnServer, own_server
from tests.support.pgproxy import PgProxy, Trap
from tests.support.util import GrowingFeed, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skip(
    reason="unfinished: a connection through tests/support/pgproxy.py sometimes stops "
           "getting the server's answers (the bot then waits on it for ever); fix the proxy, "
           "then enable. DBG_PATH=<dir with a sitecustomize registering faulthandler on "
           "SIGUSR2>: dumps threads, pg_stat_activity and unsent rows at the end")]
FAILOVER = 3.0
PER_FEED = 60
GROW_EVERY = 1.0
CHANNELS = ("#chip-alerts", "#policy", "#chip-firehose")


def _items(name: str, site: str) -> list[dict[str, str]]:
    return [{"title": (f"China approves H200 imports for {site} buyer {n}" if n % 3
                       else f"US adds {site} firm {n} to entity list over chip exports"),
             "link": f"https://{name}.example.com/{n}", "guid": f"{name}-{n}"}
            for n in range(PER_FEED)]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (OSError, ValueError):
        return 0, {}


class Bots:
    """Two `python -m bot run` replicas started at once, /healthz on ports of their own."""

    def __init__(self, tmp: Path, config: dict[str, Any], env: dict[str, str]) -> None:
        self.tmp, self.procs, self.ports, self.configs = tmp, {}, {}, {}
        full = {k: v for k, v in os.environ.items()
                if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "CHIPWATCH_DATABASE_URL")}
        full.update(env, PYTHONPATH=os.environ.get("DBG_PATH", "") + str(REPO))
        for name in ("a", "b"):
            folder = tmp / name
            folder.mkdir()
            self.ports[name] = port = _port()
            self.configs[name] = write_config(
                folder, **config, ha={"failover": f"{FAILOVER}s", "replica": name},
                metrics={"listen": f"127.0.0.1:{port}"})
        self.env = full
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        with (tmp / "bots.log").open("ab") as out:
            for name, path in self.configs.items():
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "bot", "--log-format", "json", "run", "--config",
                     str(path)], stdout=out, stderr=out, env=full, cwd=REPO)

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def health_cli(self, name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "health", "--config",
                               str(self.configs[name])], capture_output=True, text=True,
                              env=self.env, cwd=REPO, timeout=60)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _lease(url: str) -> tuple[int, str | None]:
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        term, holder, live = conn.execute(
            "SELECT term, holder, expires > clock_timestamp() FROM leader WHERE id = 1"
        ).fetchone()
    return int(term), holder if live else None


def _leader_after(url: str, term: int, limit: float) -> tuple[int, str] | None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            now, holder = _lease(url)
        except psycopg.Error:  # down, or not migrated yet
            now, holder = term, None
        if now > term and holder is not None:
            return now, holder
        time.sleep(0.05)
    return None


@pytest.fixture
def server() -> Iterator[OwnServer]:
    with own_server() as own:
        yield own


def test_database_restarts_cuts_and_lost_commits_lose_nothing(
        tmp_path: Path, fake_slack: FakeSlack, server: OwnServer) -> None:
    direct = server.database("cw")
    proxy = PgProxy(server.socket_dir)
    feeds = [GrowingFeed(n, _items(n, s), GROW_EVERY) for n, s in
             (("wire", "wire"), ("desk", "desk"), ("wire-mirror", "wire"))]
    fake_slack.state.sticky.append(Fault(method="chat.postMessage", slow_answer=0.1))
    returns: list[float] = []
    unavailable: Counter[str] = Counter()
    fired: list[str] = []
    with FeedServer(latency=0.02) as feed_server:
        for f in feeds:
            feed_server.serve(f"/{f.name}.rss", b"", behaviour=f.behaviour)
        config = {
            "feeds": [{"name": f.name, "url": feed_server.url(f"/{f.name}.rss")} for f in feeds],
            "slack_url": fake_slack.base_url, "database": proxy.url(direct),
            "defaults": {"interval": "1s", "max_age": "3650d", "jitter": "0s"},
            "rules": TEST_RULES["rules"]}
        bots = Bots(tmp_path, config, slack_env(fake_slack))
        try:
            assert _leader_after(direct, 0, 60), "no replica took the lead"

            def outage(trap: Trap | None, label: str) -> None:
                """Let `trap` stop the server (or stop it while a post awaits Slack's
                answer), check what operators see, start it, time the new lead."""
                if trap is None:
                    assert wait_for(lambda: fake_slack.state.answering > 0, 30, 0.002)
                    server.stop()
                else:
                    proxy.arm(trap)
                    assert trap.fired.wait(60), label
                fired.append(label)
                for name, port in bots.ports.items():
                    assert wait_for(lambda p=port: _healthz(p)[1].get("database") ==
                                    "unavailable", 30), (label, name, _healthz(port))
                    status, body = _healthz(port)
                    assert status == 503, (label, name, status, body)
                    unavailable[name] += 1
                cli = bots.health_cli("a")
                assert cli.returncode == 1 and "database" in cli.stdout, cli.stdout
                server.start()
                began = time.monotonic()

                def leads() -> bool:
                    return any(_healthz(p)[1].get("role") == "leader" and _healthz(p)[0] == 200
                               for p in bots.ports.values())

                if not wait_for(leads, 10 * FAILOVER, 0.05):
                    for proc in bots.procs.values():
                        proc.send_signal(signal.SIGUSR2)
                    time.sleep(1)
                    raise AssertionError(label)
                returns.append(time.monotonic() - began)
                for port in bots.ports.values():
                    assert wait_for(lambda p=port: _healthz(p)[0] == 200, 30), (label,
                                                                                _healthz(port))

            outage(None, "stop while a post awaits Slack")
            for trap, label in ((Trap(b"INSERT INTO items", "commit"), "batch answer lost"),
                                (Trap(b"INSERT INTO outbox", "statement"), "batch cut"),
                                (Trap(b"UPDATE outbox SET state", "commit"),
                                 "sender's update answer lost")):
                proxy.arm(trap)
                assert trap.fired.wait(60), label
                fired.append(label)
            outage(Trap(b"INSERT INTO items", "statement", step=server.stop), "stop mid-batch")
            outage(Trap(b"INSERT INTO items", "commit", step=server.stop),
                   "stop after a batch's commit, answer lost")
            deadline = time.monotonic() + 120
            quiet_since: float | None = None
            while time.monotonic() < deadline:
                with psycopg.connect(direct, autocommit=True) as watch:
                    left = watch.execute("SELECT COUNT(*) FROM outbox WHERE state != 'sent'"
                                         ).fetchone()[0]
                    items = watch.execute("SELECT COUNT(*) FROM items").fetchone()[0]
                if all(f.visible() == PER_FEED for f in feeds) and left == 0 \
                        and items == PER_FEED * len(feeds):
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= 3:
                        break
                else:
                    quiet_since = None
                threading.Event().wait(0.3)
            exited = bots.exited()
            if os.environ.get("DBG_PATH"):
                for proc in bots.procs.values():
                    proc.send_signal(signal.SIGUSR2)
                time.sleep(1)
                with psycopg.connect(direct, autocommit=True) as watch:
                    dump = watch.execute(
                        "SELECT o.id, o.key, o.state, o.attempts, o.error, o.next_attempt, "
                        "o.maybe_sent, p.state, p.key FROM outbox o LEFT JOIN threads t ON "
                        "t.story_id = o.story_id AND t.channel = o.channel LEFT JOIN outbox p "
                        "ON p.id = t.outbox_id WHERE o.state != 'sent' ORDER BY o.id").fetchall()
                    dump += watch.execute(
                        "SELECT pid, application_name, state, wait_event_type, wait_event, "
                        "left(query, 80), backend_xid FROM pg_stat_activity").fetchall()
                (tmp_path / "unsent.txt").write_text("\n".join(map(str, dump)))
        finally:
            bots.stop()
    with psycopg.connect(direct, autocommit=True) as watch:
        rows = watch.execute("SELECT key, channel, state FROM outbox ORDER BY id").fetchall()
        statuses = dict(watch.execute("SELECT status, COUNT(*) FROM items GROUP BY status"
                                      ).fetchall())
    log = (tmp_path / "bots.log").read_text(errors="replace")
    keys: Counter[str] = Counter()
    order: dict[str, list[str]] = {}
    with fake_slack.state.lock:
        for channel in CHANNELS:
            msgs = fake_slack.state.messages.get(fake_slack.state.channel_id(channel), [])
            for m in sorted(msgs, key=lambda m: float(m["ts"])):
                key = m["metadata"]["event_payload"]["key"]
                keys[key] += 1
                order.setdefault(channel, []).append(key)
    posts = {k for k, _, _ in rows if not k.startswith("update|")}
    lost = sorted(posts - set(keys))
    dupes = sorted(k for k, n in keys.items() if n > 1)
    FIGURES.setdefault("database restarts (2 replicas, PostgreSQL)", {}).update({
        "disruptions": (fired,), "lead again after start (s)": tuple(f"{r:.2f}" for r in returns),
        "messages posted": (sum(keys.values()),), "lost": (len(lost),),
        "duplicates": (len(dupes),)})
    assert not exited, (exited, log[-3000:])
    assert statuses == {"alert": PER_FEED * len(feeds)}, (statuses, lost[:5])
    assert not lost, (lost[:5], [r for r in rows if r[2] != "sent"][:5])
    assert not dupes, dupes[:5]
    assert {s for _, _, s in rows} == {"sent"}, [r for r in rows if r[2] != "sent"][:5]
    ids = {k: i for i, (k, _, _) in enumerate(rows)}
    for channel, posted in order.items():
        assert [ids[k] for k in posted] == sorted(ids[k] for k in posted), channel
    assert sum(1 for k in keys if k.startswith("reply|")) >= PER_FEED // 2  # threads used
    assert "Traceback" not in log, log[log.index("Traceback") - 600:][:5000]
    assert max(returns) <= FAILOVER + 1.5, returns
