"""A fake Slack Socket Mode server on 127.0.0.1 for the real `slack_sdk` SocketModeClient.

It speaks just enough WebSocket (RFC 6455: the handshake, masked client frames, text, ping,
pong and close) to behave like Slack: every connection gets a `hello`; envelopes
(`interactive`, `slash_commands`) go to the live connection; acks are recorded by
`envelope_id`; an envelope never acked is redelivered on the next connection with
`retry_attempt` + 1 (as Slack does); `disconnect(reason)` sends Slack's `disconnect` message
and then closes, and the client must come back through `apps.connections.open`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

from tests.support.util import recv_exact

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes) -> bytes:
    """A server frame (unmasked, final)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


@dataclass
class Conn:
    """One client connection."""

    sock: socket.socket
    number: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: bool = True

    def send(self, opcode: int, payload: bytes) -> None:
        with self.lock:
            if self.open:
                self.sock.sendall(frame(opcode, payload))

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(TEXT, json.dumps(message).encode())

    def close(self) -> None:
        with self.lock:
            if self.open:
                self.open = False
                with contextlib.suppress(OSError):
                    self.sock.sendall(frame(CLOSE, struct.pack("!H", 1000)))
                self.sock.close()


class FakeSocketMode:
    """The server; `url()` is what the fake Web API's apps.connections.open hands out."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[Conn] = []
        self.acks: list[dict[str, Any]] = []  # every ack, in arrival order
        self.unacked: dict[str, dict[str, Any]] = {}  # envelope id → envelope
        self.handed_out = 0
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def url(self) -> str:
        self.handed_out += 1
        return f"ws://127.0.0.1:{self.port}/link/?ticket={self.handed_out}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped = True
        self.listener.close()
        for c in list(self.conns):
            c.close()

    # ---- what tests do ----------------------------------------------------------------

    @property
    def live(self) -> Conn | None:
        with self.lock:
            open_ = [c for c in self.conns if c.open]
        return open_[-1] if open_ else None

    def send(self, kind: str, payload: dict[str, Any], envelope_id: str | None = None,
             retry_attempt: int = 0) -> str:
        """Deliver an envelope now if a client is connected, else on its next connection."""
        envelope_id = envelope_id or f"env-{next(self.ids)}"
        env = {"envelope_id": envelope_id, "type": kind, "payload": payload,
               "accepts_response_payload": kind == "slash_commands",
               "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt
               else ""}
        with self.lock:
            self.unacked[envelope_id] = env
        conn = self.live
        if conn is not None:
            conn.send_json(env)
        return envelope_id

    def redeliver(self, envelope_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Send an envelope again, as Slack does when it thinks an ack was lost."""
        self.send(kind, payload, envelope_id, retry_attempt=1)

    def ack_for(self, envelope_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.acks if a.get("envelope_id") == envelope_id]

    def disconnect(self, reason: str = "refresh_requested", close_after: float = 0.3) -> None:
        """Slack's `disconnect` message, then the socket closes."""
        conn = self.live
        if conn is None:
            return
        conn.send_json({"type": "disconnect", "reason": reason,
                        "debug_info": {"host": "fake"}})
        threading.Timer(close_after, conn.close).start()

    def wait_connections(self, n: int, timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.conns) >= n and self.conns[-1].open:
                    return True
            time.sleep(0.05)
        return False

    # ---- the server ---------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.stopped:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _handshake(self, sock: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            data += chunk
        headers = {}
        for line in data.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        return True

    def _serve(self, sock: socket.socket) -> None:
        try:
            if not self._handshake(sock):
                sock.close()
                return
        except OSError:
            return
        with self.lock:
            conn = Conn(sock, len(self.conns) + 1)
            self.conns.append(conn)
            redeliver = list(self.unacked.values())
        conn.send_json({"type": "hello", "num_connections": 1,
                        "connection_info": {"app_id": "AFAKE"},
                        "debug_info": {"host": "fake", "approximate_connection_time": 3600}})
        for env in redeliver:  # never acked: Slack sends it again on the new socket
            conn.send_json({**env, "retry_attempt": env["retry_attempt"] + 1,
                            "retry_reason": "timeout"})
        with contextlib.suppress(OSError, ConnectionError):
            self._read(conn)
        conn.open = False

    def _read(self, conn: Conn) -> None:
        while conn.open:
            b1, b2 = recv_exact(conn.sock, 2)
            opcode, n = b1 & 0x0F, b2 & 0x7F
            if n == 126:
                n = struct.unpack("!H", recv_exact(conn.sock, 2))[0]
            elif n == 127:
                n = struct.unpack("!Q", recv_exact(conn.sock, 8))[0]
            mask = recv_exact(conn.sock, 4) if b2 & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(recv_exact(conn.sock, n)))
            if opcode == PING:
                conn.send(PONG, data)
            elif opcode == CLOSE:
                conn.close()
            elif opcode == TEXT:
                message = json.loads(data)
                if "envelope_id" in message:
                    with self.lock:
                        self.acks.append(message)
                        self.unacked.pop(message["envelope_id"], None)


def button(user: str, channel_id: str, ts: str, action_id: str,
           value: str = "") -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button press on a message."""
    return {"type": "block_actions", "user": {"id": user, "username": user.lower()},
            "team": {"id": "T1"}, "channel": {"id": channel_id, "name": "x"},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel_id,
                          "is_ephemeral": False},
            "message": {"ts": ts, "type": "message"}, "trigger_id": "1.2.3",
            "response_url": "https://hooks.invalid/actions/1",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                         "value": value, "action_ts": "1800000000.1"}]}


def command(user: str, channel_id: str, text: str) -> dict[str, Any]:
    """A slash_commands payload for `/chipwatch TEXT`."""
    return {"command": "/chipwatch", "text": text, "user_id": user, "user_name": user.lower(),
            "channel_id": channel_id, "team_id": "T1", "trigger_id": "1.2.3",
            "response_url": "https://hooks.invalid/commands/1"}
