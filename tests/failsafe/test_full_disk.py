"""A full disk under the SQLite state: while writes fail, /healthz, `chipwatch health` (over
/healthz and from the heartbeat file), `chipwatch status` and /metrics say so; once space
returns the fault clears by itself and every alert goes out once.

The full disk is SQLite's own: `PRAGMA max_page_count` caps the bot's connection at the
file's size, so a batch that needs a new page fails with `database or disk is full`
(SQLITE_FULL), exactly as on a full file system. The second test mounts a small tmpfs where
the machine allows it (root with CAP_SYS_ADMIN) and fills it for real.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import SYSTEM_CLOCK
from bot.runtime.loop import Follower, serve_metrics
from tests.conftest import slack_env, write_config
from tests.service.helpers import build_app, get
from tests.support.cli import invoke
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

pytestmark = pytest.mark.slow  # the leader's real duties: scheduler, processor, sender
HEADLINES = [f"China approves imports of Nvidia H200 chips for buyer {n}" for n in range(3)]


def _feed(feed_server: FeedServer) -> str:
    """Alerting items, and enough text that recording them needs new pages."""
    entries = [{"title": t, "link": f"https://wire.example.com/{n}", "summary": "x" * 3000}
               for n, t in enumerate(HEADLINES)]
    entries += [{"title": f"Quarterly results of company {n}", "summary": "y" * 3000,
                 "link": f"https://wire.example.com/q{n}"} for n in range(40)]
    return feed_server.serve("/wire.rss", rss(entries))


def _healthz(server_address: str) -> tuple[int, dict[str, object]]:
    status, body = get(f"http://{server_address}/healthz")
    return status, json.loads(body)


def _failing_gauge(server_address: str) -> str | None:
    """The value /metrics gives `chipwatch_state_write_failing` (None: no sample)."""
    _, text = get(f"http://{server_address}/metrics")
    found = re.search(r'^chipwatch_state_write_failing\{backend="sqlite"\} (\S+)$', text, re.M)
    return found[1] if found else None


@contextlib.contextmanager
def _leading(app: App) -> Iterator[str]:
    """The leader's duties running (as `run` has them) and /healthz; its address."""
    follower = Follower(app)
    server = serve_metrics(app, "127.0.0.1:0", follower)
    assert server is not None
    follower.step()
    try:
        yield server.address
    finally:
        follower.close()
        server.close()


def test_a_full_state_is_reported_while_it_lasts_and_cleared_after(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, [{"name": "wire", "url": _feed(feed_server),
                                      "interval": "1s"}], fake_slack.base_url)
    app = build_app(config, SYSTEM_CLOCK, slack_env(fake_slack))
    with app.db.reading() as conn:  # the file may grow no more: SQLite's own full disk
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
    monkeypatch.delenv("CHIPWATCH_METRICS_LISTEN", raising=False)
    try:
        with _leading(app) as address:
            assert wait_for(lambda: _healthz(address)[0] == 503)
            _, detail = _healthz(address)
            fault = detail["state_write_failed"]
            assert isinstance(fault, dict) and "database or disk is full" in str(fault["error"])
            assert _failing_gauge(address) == "1.0"  # ChipwatchStateWriteFailing reads it
            # From the heartbeat file (metrics off, as by default) ...
            code, out, _ = invoke(capsys, "health", "--config", str(config))
            assert code == 1 and out.startswith("unhealthy: state writes failing since "), out
            assert "database or disk is full; free space where the state file lives" in out
            # ... and from /healthz.
            monkeypatch.setenv("CHIPWATCH_METRICS_LISTEN", address)
            code, out, _ = invoke(capsys, "health", "--config", str(config))
            assert code == 1 and "state writes failing since" in out and address in out, out
            monkeypatch.delenv("CHIPWATCH_METRICS_LISTEN")
            code, out, _ = invoke(capsys, "status", "--config", str(config))
            assert code == 0 and "state: WRITES FAILING: state writes failing since" in out, out
            assert fake_slack.state.top_level("#chip-alerts") == []  # nothing recorded yet

            with app.db.reading() as conn:  # space again
                conn.execute("PRAGMA max_page_count = 1073741823")
            assert wait_for(lambda: _healthz(address)[0] == 200)
            assert _healthz(address)[1]["state_write_failed"] is None
            assert _failing_gauge(address) == "0.0"
            assert wait_for(lambda: len(fake_slack.state.top_level("#chip-alerts")) == 3)
            code, out, _ = invoke(capsys, "health", "--config", str(config))
            assert code == 0 and out.startswith("healthy:"), out
            code, out, _ = invoke(capsys, "status", "--config", str(config))
            assert "WRITES FAILING" not in out
    finally:
        app.close()
    titles = [m["blocks"][0]["text"]["text"] for m in fake_slack.state.top_level("#chip-alerts")]
    assert sorted(titles) == sorted(HEADLINES)  # each alert once


def _can_mount() -> str | None:
    """Why a tmpfs cannot be mounted here, or None when it can."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting a tmpfs needs root and mount(8)"
    probe = Path("/tmp") / f"chipwatch-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return f"this machine does not allow mounting a tmpfs ({done.stderr.strip()})"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    finally:
        probe.rmdir()


def test_a_real_full_file_system_shows_in_health_and_clears(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    why = _can_mount()
    if why is not None:
        pytest.skip(why)
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        config = write_config(disk, [{"name": "wire", "url": _feed(feed_server),
                                      "interval": "1s"}], fake_slack.base_url)
        app = build_app(config, SYSTEM_CLOCK, slack_env(fake_slack))
        monkeypatch.delenv("CHIPWATCH_METRICS_LISTEN", raising=False)
        filler = disk / "filler"
        try:
            with _leading(app) as address:
                assert wait_for(lambda: (disk / "state" / "chipwatch.heartbeat").exists())
                # Unbuffered, and the error suppressed outside the file: closing it must not
                # raise the ENOSPC a buffered flush would.
                with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
                    while True:  # until the file system is full
                        out.write(b"\0" * 65536)
                assert wait_for(lambda: _healthz(address)[0] == 503)
                code, out, _ = invoke(capsys, "health", "--config", str(config))
                assert code == 1 and "state writes failing since" in out, out
                filler.unlink()  # space again
                assert wait_for(lambda: _healthz(address)[0] == 200)
                assert wait_for(lambda: len(fake_slack.state.top_level("#chip-alerts")) == 3)
                code, out, _ = invoke(capsys, "health", "--config", str(config))
                assert code == 0, out
        finally:
            app.close()
        db = sqlite3.connect(disk / "state" / "chipwatch.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
