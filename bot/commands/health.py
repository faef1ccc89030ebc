"""`chipwatch health`: exit 0 when the running bot's scheduler is alive.

With the metrics endpoint on (`metrics.listen` or $CHIPWATCH_METRICS_LISTEN) it asks the
bot's own `/healthz`, which also fails when the processor thread died; otherwise it reads the
heartbeat file the scheduler writes every 30 s. Either way it fails while Slack refuses the
bot token (nothing is sent), writes to the state fail (a full disk) or the database does not
answer (replicas on PostgreSQL), and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.config.duration import cli_duration, format_duration


def register(sub: Any) -> None:
    p = add_command(sub, "health", "exit 0 when the running bot's scheduler is alive")
    p.add_argument("--max-age", type=cli_duration, default="2m", metavar="DURATION",
                   help="how old the heartbeat file may be: 90s, 2m… (default 2m)")
    p.set_defaults(func=health)


def _healthz(listen: str) -> int:
    from bot.runtime.heartbeat import database_line, fault_line, halted_line

    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"  # a wildcard listener answers on loopback
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(body)
            halted, fault = detail.get("sending_halted"), detail.get("state_write_failed")
            if detail.get("database") == "unavailable":
                print(f"unhealthy: {database_line(str(detail.get('database_error')))} ({url})")
                return EXIT_FAIL
            if fault:
                print(f"unhealthy: {fault_line(fault)} ({url})")
                return EXIT_FAIL
            if halted:
                print(f"unhealthy: sending halted: {halted_line(halted)} ({url})")
                return EXIT_FAIL
        print(f"unhealthy: {url} answered {exc.code} {body[:300]}")
        return EXIT_FAIL
    except OSError as exc:
        print(f"unhealthy: {url} unreachable ({exc})")
        return EXIT_FAIL
    detail = json.loads(body)
    print(f"healthy: heartbeat {detail.get('heartbeat_age_seconds')}s ago ({url})")
    return EXIT_OK


def health(args: argparse.Namespace) -> int:
    from bot.app import metrics_listen
    from bot.clock import SYSTEM_CLOCK
    from bot.runtime.heartbeat import database_line, fault_line, halted_line, read_beat

    config = load(args, lint=False)
    listen = metrics_listen(config, os.environ)
    if listen:
        return _healthz(listen)
    beat = read_beat(config.settings.heartbeat_path, SYSTEM_CLOCK)
    if beat is None:
        print("unhealthy: no heartbeat (the bot is not running, or has not started yet)")
        return EXIT_FAIL
    seen = format_duration(timedelta(seconds=round(beat.age.total_seconds())))
    if beat.age > args.max_age:
        print(f"unhealthy: last heartbeat {seen} ago (more than {format_duration(args.max_age)})")
        return EXIT_FAIL
    if beat.database_unavailable:
        print(f"unhealthy: {database_line(beat.database_unavailable)}; last heartbeat {seen} "
              "ago")
        return EXIT_FAIL
    if beat.state_write_failed:
        print(f"unhealthy: {fault_line(beat.state_write_failed)}; last heartbeat {seen} ago")
        return EXIT_FAIL
    if beat.sending_halted:
        print(f"unhealthy: sending halted: {halted_line(beat.sending_halted)}; last heartbeat "
              f"{seen} ago")
        return EXIT_FAIL
    print(f"healthy: last heartbeat {seen} ago")
    return EXIT_OK
