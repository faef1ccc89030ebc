"""Two replicas in one process on a real PostgreSQL: one leads, the other stands by and is
healthy; /healthz, /metrics and `status` say who is what; a clean stop hands over at once."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import load_config
from tests.conftest import write_config
from tests.support.cli import run_here
from tests.support.util import wait_for


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _health(port: int) -> dict[str, Any]:
    status, body = _get(port, "/healthz")
    return {"status": status, **(json.loads(body) if body.startswith("{") else {})}


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str) -> Iterator[list[tuple[App, int, threading.Thread]]]:
    out = []
    for name in ("alpha", "beta"):
        folder = tmp_path / name
        folder.mkdir()
        config = load_config(write_config(folder, [], database=pg_url,
                                          ha={"failover": "3s", "replica": name}))
        app = App.build(config, env={})
        port = _port()
        thread = threading.Thread(target=app.run_forever,
                                  kwargs={"env": {"CHIPWATCH_METRICS_LISTEN": f"127.0.0.1:{port}"}},
                                  daemon=True)
        thread.start()
        out.append((app, port, thread))
        # alpha leads before beta starts, so who leads is known
        assert wait_for(lambda p=port: _health(p).get("leader") == "alpha", 20)
    yield out
    for app, _, thread in out:
        app.stop.set()
        thread.join(30)
        app.close()


def test_one_leads_one_stands_by_both_healthy_then_a_clean_stop_hands_over(
        replicas: list[tuple[App, int, threading.Thread]], tmp_path: Path, pg_url: str) -> None:
    (alpha, a_port, a_thread), (_beta, b_port, _) = replicas
    assert wait_for(lambda: {_health(a_port).get("role"), _health(b_port).get("role")}
                    == {"leader", "standby"}, 10)
    a, b = _health(a_port), _health(b_port)
    assert a["status"] == b["status"] == 200
    assert a["role"] == "leader" and b["role"] == "standby"  # alpha started first
    assert a["leader"] == b["leader"] == "alpha" and a["term"] == 1 and b["term"] is None
    _, metrics = _get(a_port, "/metrics")
    assert 'chipwatch_replica_role{role="leader"} 1.0' in metrics
    _, metrics = _get(b_port, "/metrics")
    assert 'chipwatch_replica_role{role="standby"} 1.0' in metrics

    config = write_config(tmp_path, [], database=pg_url)
    data = json.loads(run_here("status", "--json", "--config", str(config)).stdout)
    assert data["ha"]["leader"] == "alpha" and data["ha"]["term"] == 1
    assert {(r["name"], r["role"]) for r in data["ha"]["replicas"]} == {
        ("alpha", "leader"), ("beta", "standby")}
    table = run_here("status", "--config", str(config)).stdout
    assert "leader: alpha term=1" in table and "replica beta: standby" in table

    alpha.stop.set()  # a clean stop gives the lease up: no waiting for it to lapse
    a_thread.join(30)
    assert wait_for(lambda: _health(b_port).get("role") == "leader", 3)
    assert _health(b_port)["term"] == 2
