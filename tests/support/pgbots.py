"""Two `python -m bot run` replicas on one PostgreSQL, as an operator starts them (both at
once), with /healthz on ports of their own; and what a test asks of them and of the lease."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import REPO, write_config
from tests.support.procs import stop_all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    """A replica's /healthz: status and body (0 and {} when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (OSError, ValueError):
        return 0, {}


class Bots:
    """Replicas "a" and "b" started at once; their output goes to `tmp/bots.log`."""

    def __init__(self, tmp: Path, config: dict[str, Any], env: dict[str, str],
                 failover: float) -> None:
        self.tmp = tmp
        self.log = tmp / "bots.log"
        self.ports: dict[str, int] = {}
        self.configs: dict[str, Path] = {}
        full = {k: v for k, v in os.environ.items()
                if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "CHIPWATCH_DATABASE_URL")}
        full.update(env, PYTHONPATH=str(REPO))
        for name in ("a", "b"):
            folder = tmp / name
            folder.mkdir()
            self.ports[name] = port = free_port()
            self.configs[name] = write_config(
                folder, **config, ha={"failover": f"{failover}s", "replica": name},
                metrics={"listen": f"127.0.0.1:{port}"})
        self.env = full
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        with self.log.open("ab") as out:
            for name, path in self.configs.items():
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "bot", "--log-format", "json", "run", "--config",
                     str(path)], stdout=out, stderr=out, env=full, cwd=REPO)

    def exited(self) -> dict[str, int | None]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def health_cli(self, name: str) -> subprocess.CompletedProcess[str]:
        """`chipwatch health` for replica `name`, as an operator runs it."""
        return subprocess.run([sys.executable, "-m", "bot", "health", "--config",
                               str(self.configs[name])], capture_output=True, text=True,
                              env=self.env, cwd=REPO, timeout=60)

    def leading(self) -> str | None:
        """The replica whose /healthz says it leads and is healthy, if any."""
        for name, port in self.ports.items():
            status, body = healthz(port)
            if status == 200 and body.get("role") == "leader":
                return name
        return None

    def stop(self) -> None:
        stop_all(self.procs.values())


def lease(url: str) -> tuple[int, str | None]:
    """The lease's term and its live holder (None once it lapsed)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT term, holder, expires > clock_timestamp() FROM leader WHERE id = 1"
        ).fetchone()
    assert row is not None
    term, holder, live = row
    return int(term), holder if live else None


def leader_after(url: str, term: int, limit: float) -> tuple[int, str] | None:
    """Wait up to `limit` s for a lease of a term after `term`, held: (term, holder)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            now, holder = lease(url)
        except psycopg.Error:  # down, or not migrated yet
            now, holder = term, None
        if now > term and holder is not None:
            return now, holder
        time.sleep(0.05)
    return None
