"""Shared plumbing for the poll benchmarks: the feed server subprocess, configs, runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """A config with the bundled rules and routes, these feeds, and state in `workdir`."""
    base = yaml.safe_load((ROOT / "config" / "chipwatch.yaml").read_text())
    data: dict[str, Any] = {
        "defaults": {"interval": "10m", "max_age": "3650d", "jitter": "0s"},
        "feeds": [{"name": f"feed-{i:04d}", "url": u} for i, u in enumerate(urls)],
        "terms": base.get("terms", {}), "rules": base["rules"], "routes": base["routes"],
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
