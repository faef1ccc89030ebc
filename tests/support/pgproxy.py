"""A loopback TCP proxy in front of a PostgreSQL unix socket that reads the wire protocol
well enough to act at the statements that matter: run a step (stop the server) while a
transaction waits on one of its statements, or after the server answered a COMMIT of a
transaction that ran a given statement, and then drop the connection without passing the
answer on (a commit whose answer is lost). The bot connects to it with an ordinary URL."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit


@dataclass
class Trap:
    """One armed action. `pattern` is found in a statement's SQL (simple query, Parse, or the
    Parse behind a Bind of a prepared statement). `when`: "statement" acts before the
    statement reaches the server; "commit" acts after the server answered the COMMIT that
    ends a transaction which ran such a statement, and that answer is then lost. `step`
    runs in the proxy's thread (stop the server); then the client's connection is cut."""

    pattern: bytes
    when: str
    step: Callable[[], None] = lambda: None
    fired: threading.Event = field(default_factory=threading.Event)


def _read_message(sock: socket.socket, typed: bool) -> bytes:
    head = _exactly(sock, 5 if typed else 4)
    size = struct.unpack("!I", head[1:5] if typed else head)[0]
    return head + _exactly(sock, size - 4)


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class PgProxy:
    """Listens on 127.0.0.1; each client connection gets its own connection to the socket."""

    def __init__(self, socket_dir: str, port: int = 5432) -> None:
        self.target = f"{socket_dir}/.s.PGSQL.{port}"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.traps: list[Trap] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, direct: str) -> str:
        """`direct` (a unix-socket URL of the server) as a URL through the proxy."""
        parts = urlsplit(direct)
        return urlunsplit(("postgresql", f"postgres@127.0.0.1:{self.port}", parts.path,
                           "sslmode=disable&gssencmode=disable", ""))

    def arm(self, trap: Trap) -> Trap:
        with self.lock:
            self.traps.append(trap)
        return trap

    def _take(self, text: bytes, when: str) -> Trap | None:
        with self.lock:
            for trap in self.traps:
                if trap.when == when and trap.pattern in text:
                    self.traps.remove(trap)
                    return trap
        return None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.socket(socket.AF_UNIX)
        try:
            server.connect(self.target)
        except OSError:
            server.close()
            client.close()
            return
        answers: list[bytes] = []  # server messages, read by the commit trap when it waits
        held: list[bool] = []  # non-empty: the client is no longer told anything
        cond = threading.Condition()
        threading.Thread(target=self._back, args=(server, client, answers, held, cond),
                         daemon=True).start()
        statements: dict[bytes, bytes] = {}
        ran: list[bytes] = []  # SQL run since the last COMMIT
        try:
            server.sendall(_read_message(client, typed=False))  # the startup packet
            while True:
                msg = _read_message(client, typed=True)
                kind, body = msg[:1], msg[5:]
                text = b""
                if kind == b"Q":
                    text = body
                elif kind == b"P":
                    name, _, rest = body.partition(b"\0")
                    text = rest.partition(b"\0")[0]
                    statements[name] = text
                elif kind == b"B":
                    stmt = body.split(b"\0", 2)[1]
                    text = statements.get(stmt, b"")
                if kind == b"Q" and text.strip(b"\0 ").upper() == b"COMMIT":
                    trap = next((t for sql in ran if (t := self._take(sql, "commit"))), None)
                    ran.clear()
                    if trap is not None:
                        with cond:
                            answers.clear()
                            held.append(True)
                            server.sendall(msg)
                            cond.wait_for(lambda: any(a[:1] == b"Z" for a in answers), 10)
                        trap.step()
                        trap.fired.set()
                        return
                elif text:
                    ran.append(text)
                    trap = self._take(text, "statement")
                    if trap is not None:
                        trap.step()
                        trap.fired.set()
                        return
                server.sendall(msg)
        except Exception:
            pass
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    @staticmethod
    def _back(server: socket.socket, client: socket.socket, answers: list[bytes],
              held: list[bool], cond: threading.Condition) -> None:
        """Server to client, message by message; once a commit trap holds the connection,
        answers are kept here and never passed on."""
        try:
            while True:
                msg = _read_message(server, typed=True)
                with cond:
                    answers.append(msg)
                    cond.notify_all()
                    if len(answers) > 64:
                        del answers[:32]
                    if held:
                        continue
                client.sendall(msg)
        except Exception:
            pass
        with contextlib.suppress(OSError):  # the server closed: so does the client's side
            client.shutdown(socket.SHUT_RDWR)
