"""Socket Mode's own log lines come out as library lines (`slack_sdk_log`, with `logger` and
`message`), in JSON and in the human format: the real SocketModeClient connecting to the fake
Socket Mode server."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from bot import logs
from bot.app import App
from bot.config import load_config
from tests.conftest import write_config
from tests.support.fake_slack import APP_TOKEN, TOKEN, FakeSlack
from tests.support.fake_socket import FakeSocketMode

EVENT = re.compile(r"[a-z][a-z0-9_]*")


@contextlib.contextmanager
def _logging(fmt: str) -> Iterator[io.StringIO]:
    """The CLI's logging set-up, with slack_sdk at DEBUG so that its lines show (it is kept
    at WARNING normally); restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    lib = logging.getLogger("slack_sdk")
    lib_level = lib.level
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        logs.setup("info", fmt)
    lib.setLevel(logging.DEBUG)
    try:
        yield err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        lib.setLevel(lib_level)


def _connect(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with FakeSocketMode() as socket:
        fake_slack.state.socket_url = socket.url
        config = load_config(write_config(tmp_path, [], fake_slack.base_url), lint=False)
        app = App.build(config, env={"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN,
                                     "SLACK_API_URL": fake_slack.base_url})
        try:
            assert app.interactions is not None
            app.interactions.start(ping_interval=2)
            assert socket.wait_connections(1)
            app.interactions.close()
        finally:
            app.close()


def test_socket_mode_lines_are_library_events_in_json(tmp_path: Path,
                                                      fake_slack: FakeSlack) -> None:
    with _logging("json") as err:
        _connect(tmp_path, fake_slack)
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    assert all(EVENT.fullmatch(d["event"]) for d in lines), [d["event"] for d in lines]
    library = [d for d in lines if not d["logger"].startswith("chipwatch")]
    assert any(d["logger"].startswith("slack_sdk.socket_mode") for d in library)
    for d in library:
        assert d["event"] == "slack_sdk_log" and d["message"], d
        assert set(d) == {"ts", "level", "logger", "event", "message"}, d
    assert any(d["event"] == "slack_socket_mode" for d in lines)  # our own line, as before
    assert APP_TOKEN not in err.getvalue() and TOKEN not in err.getvalue()


def test_socket_mode_lines_are_library_events_for_humans(tmp_path: Path,
                                                         fake_slack: FakeSlack) -> None:
    with _logging("human") as err:
        _connect(tmp_path, fake_slack)
    events = [line.split()[2] for line in err.getvalue().splitlines()]
    assert "slack_sdk_log" in events
    assert all(EVENT.fullmatch(e) for e in events), events
