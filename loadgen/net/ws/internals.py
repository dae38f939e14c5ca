"""Every undocumented `websockets` internal loadgen relies on, in one place (the client of
`compression="deflate"` sessions; the others run on picows, fast.py).

The WebSocket client wants three things the library's public API does not give: the bytes a
socket really carries (handshake and frame headers too, as k6 counts them), the time a send
waits on a full write buffer, and a send that skips the library's per-message context manager
and no-op drain (a quarter less CPU per message). Each needs a private attribute of the
asyncio `ClientConnection`; they are all touched here, the supported `websockets` range is
pinned in pyproject.toml, and tests/ws/test_ws_internals.py fails on a real connection as soon
as a release moves one of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

#: (attribute path on a connection, why loadgen touches it) - what the test checks exists
INTERNALS: tuple[tuple[str, str], ...] = (
    ("protocol.data_to_send", "wrapped to count the bytes written"),
    ("protocol.send_text", "fast send"),
    ("protocol.send_binary", "fast send"),
    ("protocol.state", "fast send: only while OPEN"),
    ("send_in_progress", "fast send: not while a fragmented send is running"),
    ("paused", "fast send: not while writing is paused; timing blocked sends"),
    ("send_data", "fast send: flush what the protocol produced"),
    ("drain", "overridden to time sends blocked on a full write buffer"),
    ("transport.is_closing", "fast send: not on a closing transport"),
    ("transport.abort", "never leave an interrupted socket behind"),
    ("recv_messages.frames", "the receive queue depth (ws_queue_depth)"),
    ("protocol.close_sent", "the close code loadgen sent for a protocol error (1002, 1007...)"),
    ("protocol.close_rcvd_then_sent", "whether that close frame only echoed the peer's"),
    ("close_deadline", "abort a closing handshake the peer never finishes"),
    ("loop", "schedule that abort"),
)


class CountingConnection(ClientConnection):
    """A websockets connection that counts wire bytes and times sends blocked on a full
    write buffer (the only kind of send that waits)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_in = 0
        self.n_out = 0
        self.on_wait: Callable[[int], None] | None = None
        self._reaper: asyncio.TimerHandle | None = None
        pull = self.protocol.data_to_send

        def counted() -> list[bytes]:
            out = pull()
            for chunk in out:
                self.n_out += len(chunk)
            return out

        self.protocol.data_to_send = counted  # type: ignore[method-assign]

    def data_received(self, data: bytes) -> None:
        self.n_in += len(data)
        super().data_received(data)
        # A close started here (the peer's close frame, or loadgen failing the connection on
        # a bad frame) gets a deadline from the library, but only a send or close waits on it:
        # a reader would wait for the peer's TCP close forever. Enforce it.
        if self.close_deadline is not None and self._reaper is None:
            self._reaper = self.loop.call_at(self.close_deadline, self._reap)

    def _reap(self) -> None:
        if self.protocol.state is not State.CLOSED:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        super().connection_lost(exc)

    # the methods a session calls, shared with the picows connection (fast.py)
    def is_open(self) -> bool:
        return is_open(self)

    def is_closed(self) -> bool:
        return is_closed(self)

    def send_now(self, message: str | bytes | bytearray | memoryview) -> bool:
        return send_now(self, message)

    def failed_with(self) -> tuple[int, str] | None:
        return failed_with(self)

    def abort(self) -> None:
        abort(self)

    def queue_depth(self) -> int:
        return queue_depth(self)

    async def drain(self) -> None:
        if not self.paused or self.on_wait is None:
            await super().drain()
            return
        t0 = time.perf_counter_ns()
        try:
            await super().drain()
        finally:
            self.on_wait(time.perf_counter_ns() - t0)


def is_open(conn: ClientConnection) -> bool:
    return conn.state is State.OPEN


def is_closed(conn: ClientConnection) -> bool:
    return conn.state is State.CLOSED


def send_now(conn: ClientConnection, message: str | bytes | bytearray | memoryview) -> bool:
    """Send `message` at once if nothing can block (what websockets' send() does then, minus
    its context manager and no-op drain); False when the caller must `await conn.send()`."""
    if (conn.send_in_progress is not None or conn.paused
            or conn.protocol.state is not State.OPEN or conn.transport.is_closing()):
        return False
    if isinstance(message, str):
        conn.protocol.send_text(message.encode())
    elif isinstance(message, bytes | bytearray | memoryview):
        conn.protocol.send_binary(message)
    else:
        raise TypeError(f"a WebSocket message is str or bytes-like, not {type(message).__name__}")
    conn.send_data()
    return True


def failed_with(conn: ClientConnection) -> tuple[int, str] | None:
    """(code, reason) of a close frame sent on loadgen's side first (not an echo of the
    peer's). When the scenario did not ask for a close, that is the library failing the
    connection because the peer broke the protocol (1009 an oversized frame, 1002 a reserved
    opcode, 1007 text that is not UTF-8), which it reports as 1006 when the peer never
    answers; the caller knows whether the scenario asked."""
    proto = conn.protocol
    sent = proto.close_sent
    if sent is None or proto.close_rcvd_then_sent:
        return None
    return int(sent.code), sent.reason


def abort(conn: ClientConnection) -> None:
    """Drop the socket without the closing handshake."""
    conn.transport.abort()


def queue_depth(conn: ClientConnection) -> int:
    """Frames received but not yet read by the scenario (0 if the library hides them)."""
    frames = getattr(getattr(conn, "recv_messages", None), "frames", None)
    return len(frames) if frames is not None else 0


def missing(conn: ClientConnection) -> list[str]:
    """The INTERNALS this connection lacks (the test wants [])."""
    gone = []
    for path, _why in INTERNALS:
        obj: Any = conn
        for part in path.split("."):
            if not hasattr(obj, part):
                gone.append(path)
                break
            obj = getattr(obj, part)
    return gone
