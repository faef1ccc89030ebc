"""A loopback TCP proxy in front of a PostgreSQL unix socket that reads just enough of the
wire protocol to act at one transaction's COMMIT: a `Trap` names what the transaction ran
(found in one statement's SQL and bound parameters) and what happens to its COMMIT:

- `lost=True`: the COMMIT goes to the server, which commits and answers; the answer is kept
  from the client and its connection is cut (a commit whose answer is lost);
- `lost=False`: the connection is cut before the COMMIT reaches the server (rolled back).

psycopg 3 sends `commit()` (and the end of `transaction()`) as a simple query "COMMIT";
statements go as Parse/Bind (a prepared one as a Bind to its earlier Parse's name), their
text parameters in the Bind. The bot connects to `url()`: an ordinary URL, no SSL.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, urlunsplit

from tests.support.util import recv_exact

_COMMIT = (b"COMMIT", b"END")
_RESTART = (b"BEGIN", b"START", b"ROLLBACK", b"ABORT")


def _verb(sql: bytes) -> bytes:
    """A statement's first word, upper case."""
    words = sql.rstrip(b"\0").split(None, 1)
    return words[0].rstrip(b";").upper() if words else b""


@dataclass
class Trap:
    """One armed cut. `needles` are all found in one statement of the transaction (its SQL,
    then its Bind's parameters); `answer` is the server's reply to a lost COMMIT ("COMMIT",
    or "ROLLBACK" for a transaction the server had failed)."""

    needles: tuple[bytes, ...]
    lost: bool = True
    fired: threading.Event = field(default_factory=threading.Event)
    answer: str | None = None


def text_param(value: str) -> bytes:
    """How a text parameter appears in a Bind message (length, then bytes): a needle."""
    data = value.encode()
    return struct.pack("!I", len(data)) + data


def _message(sock: socket.socket, typed: bool = True) -> bytes:
    head = recv_exact(sock, 5 if typed else 4)
    size = struct.unpack("!I", head[1:] if typed else head)[0]
    return head + recv_exact(sock, size - 4)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class _Link:
    """One client's connection and its own connection to the server. The server's messages
    are passed on one by one until a lost COMMIT holds them back."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client, self.server = client, server
        self.cond = threading.Condition()
        self.held = False
        self.answer: list[str] = []  # the held COMMIT's command tag, then "" at its Z

    def back(self) -> None:
        try:
            while True:
                msg = _message(self.server)
                with self.cond:
                    if self.held:
                        if msg[:1] == b"C":
                            self.answer.append(msg[5:].rstrip(b"\0").decode())
                        elif msg[:1] == b"Z":
                            self.answer.append("")
                        self.cond.notify_all()
                        continue
                self.client.sendall(msg)
        except OSError:
            pass
        _close(self.client)  # the server went away: so does the client's side

    def lose_answer(self, commit: bytes) -> str | None:
        """Send the COMMIT, wait for the server's whole answer, keep it: its command tag."""
        with self.cond:
            self.held = True
            self.server.sendall(commit)
            self.cond.wait_for(lambda: "" in self.answer, 10)
            return self.answer[0] if self.answer and self.answer[0] else None


class PgProxy:
    """Listens on 127.0.0.1; each client gets its own connection to the server's socket."""

    def __init__(self, direct: str) -> None:
        self.direct = direct
        parts = urlsplit(direct)
        host = parse_qs(parts.query)["host"][0]
        self.target = f"{host}/.s.PGSQL.{parts.port or 5432}"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.traps: list[Trap] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        """The server's database, through the proxy."""
        parts = urlsplit(self.direct)
        return urlunsplit(("postgresql", f"{parts.username}@127.0.0.1:{self.port}", parts.path,
                           "sslmode=disable&gssencmode=disable", ""))

    def arm(self, trap: Trap) -> Trap:
        with self.lock:
            self.traps.append(trap)
        return trap

    def close(self) -> None:
        _close(self.listener)

    def _take(self, ran: list[bytes]) -> Trap | None:
        with self.lock:
            for trap in self.traps:
                if any(all(n in stmt for n in trap.needles) for stmt in ran):
                    self.traps.remove(trap)
                    return trap
        return None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            # One small message at a time: without this, each waits for the last one's ACK.
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.socket(socket.AF_UNIX)
        try:
            server.connect(self.target)
            server.sendall(_message(client, typed=False))  # the startup packet
        except OSError:
            _close(client, server)
            return
        link = _Link(client, server)
        threading.Thread(target=link.back, daemon=True).start()
        with contextlib.suppress(OSError):  # ConnectionError is one: the client left
            self._forward(link)
        _close(client, server)

    def _forward(self, link: _Link) -> None:
        """Client to server, message by message, until the client leaves or a trap fires."""
        statements: dict[bytes, bytes] = {}  # prepared name -> SQL
        ran: list[bytes] = []  # this transaction's statements (SQL, then bound parameters)
        while True:
            msg = _message(link.client)
            kind, body = msg[:1], msg[5:]
            if kind == b"Q":
                verb = _verb(body)
                if verb in _COMMIT:
                    trap = self._take(ran)
                    ran.clear()
                    if trap is not None:
                        if trap.lost:
                            trap.answer = link.lose_answer(msg)
                        trap.fired.set()
                        return
                elif verb in _RESTART:
                    ran.clear()
                else:
                    ran.append(body)
            elif kind == b"P":
                name, _, rest = body.partition(b"\0")
                statements[name] = rest.partition(b"\0")[0]
            elif kind == b"B":
                _, stmt, params = body.split(b"\0", 2)
                sql = statements.get(stmt, b"")
                if _verb(sql) in _RESTART:  # BEGIN in a pipeline
                    ran.clear()
                else:
                    ran.append(sql + b"\0" + params)
            elif kind == b"X":
                link.server.sendall(msg)
                return
            link.server.sendall(msg)
