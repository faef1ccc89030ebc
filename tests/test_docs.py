"""What the docs tell an operator to type works with what the repository ships: the compose
steps that move a SQLite install into its PostgreSQL, and the read timeout's wording."""

from __future__ import annotations

import re

import yaml

from bot.feeds import FetchLimits
from tests.conftest import REPO


def _commands(text: str) -> list[str]:
    """`docker compose …` commands in `text` (comment marks and `\\` continuations undone)."""
    lines = [re.sub(r"^#\s?", "", line).strip() for line in text.splitlines()]
    joined = re.sub(r"\\\s*\n\s*", " ", "\n".join(lines))
    return [" ".join(re.sub(r"\s+#.*$", "", line).split()) for line in joined.splitlines()
            if line.startswith("docker compose")]


def _check_copy_steps(commands: list[str], services: dict[str, dict[str, object]],
                      volume: str) -> None:
    db = next(i for i, c in enumerate(commands) if re.search(r"up -d --wait postgres$", c))
    copy = next(i for i, c in enumerate(commands) if " state copy " in c)
    replicas = next(i for i, c in enumerate(commands) if c == "docker compose up -d")
    assert db < copy < replicas, commands  # the database exists before the copy needs it
    cmd = commands[copy]
    service = re.search(r" (\S+) state copy ", cmd)
    assert service and "build" in services[service[1]], cmd  # a chipwatch replica's image
    assert "--no-deps" in cmd and "--rm" in cmd
    assert f":{volume} " in cmd, cmd  # the old state where the image's config looks
    host = re.search(r"@([\w-]+):(\d+)/", cmd)
    assert host and host[1] in services and host[2] == "5432", cmd  # inside the network


def test_compose_moves_a_sqlite_install_after_postgres_is_up() -> None:
    text = (REPO / "compose.yaml").read_text()
    assert "before the first `up`" not in text
    services = yaml.safe_load(text)["services"]
    assert "ports" not in services["postgres"]  # why the copy runs inside the network
    volume = re.search(r'VOLUME \["([^"]+)"\]', (REPO / "Dockerfile").read_text())
    assert volume is not None
    _check_copy_steps(_commands(text), services, volume[1])
    _check_copy_steps(_commands((REPO / "README.md").read_text()), services, volume[1])


def test_readme_documents_the_read_timeout() -> None:
    readme = (REPO / "README.md").read_text()
    read = FetchLimits().read_timeout
    assert f"no data for {read:g}s (read timeout: fetch.connect_timeout, at least 5s)" in readme
