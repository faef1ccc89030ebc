"""Commands end in one line and a documented exit code, never a traceback: output piped into
a reader that went away (`| head -1`), Ctrl-C during a long command, a mistyped option."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FEEDS, FIXTURES, REPO, run_cli, write_config
from tests.support.cli import invoke

HEADLINE = "China approves first imports of Nvidia's H200 AI chips, sources say"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "CHIPWATCH_CONFIG")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """`chipwatch ARGS | (a reader that already left)`: stdout is a pipe whose read end is
    closed before the command starts, so its first write fails, every time."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "bot", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO,
                              timeout=120)
    finally:
        os.close(write_end)


def _config(tmp_path: Path) -> str:
    return str(write_config(tmp_path, [{"name": "chip", "url": str(FEEDS / "chip-news.rss")}]))


def test_explain_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    done = _into_closed_pipe("explain", HEADLINE, "--config", _config(tmp_path))
    assert done.returncode == 141 and done.stderr == ""


def test_replay_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert run_cli("run", "--once", "--config", config).returncode == 0  # console alerts
    done = _into_closed_pipe("replay", "--since", "3650d", "--config", config)
    assert done.returncode == 141 and done.stderr == ""


def test_backtest_json_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    done = _into_closed_pipe("backtest", str(FIXTURES / "archive" / "small.jsonl"), "--json",
                             "--config", _config(tmp_path))
    assert done.returncode == 141 and done.stderr == ""


def test_ctrl_c_during_backtest_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """The archive is a FIFO that the test holds open: the backtest has read its first line
    and waits for more when SIGINT comes."""
    fifo = tmp_path / "archive.jsonl"
    os.mkfifo(fifo)
    first = (FIXTURES / "archive" / "small.jsonl").read_text().splitlines()[0]
    proc = subprocess.Popen([sys.executable, "-m", "bot", "backtest", str(fifo), "--config",
                             _config(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO)
    try:
        with fifo.open("w") as writer:  # opens once the backtest opened the archive
            writer.write(first + "\n")
            writer.flush()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.splitlines() == [line for line in err.splitlines() if line.strip()]
    assert len(err.splitlines()) == 1 and "stopped signal=SIGINT command=backtest" in err
    assert out == ""


def test_explain_now_names_the_option_and_the_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke(capsys, "explain", HEADLINE, "--now", "yesterday",
                          "--config", _config(tmp_path))
    assert code == 2 and "_when" not in err
    assert err.splitlines()[-1] == ("chipwatch explain: error: argument --now: expected an ISO "
                                    "date or time like 2026-01-28T12:00Z, got 'yesterday'")
