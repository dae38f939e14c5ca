"""The WebSocket pieces everything else shares: limits, errors, the URL rule, and the
connection subclass that counts wire bytes and times blocked sends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from loadgen.errors import LoadgenError

FLUSH_NS = 1_000_000_000  # message counters reach the recorder at most this late
MAX_SIZE = 32 * 2**20  # largest incoming message (bytes)
MAX_QUEUE = 32  # incoming frames buffered before reading from the socket pauses
WRITE_LIMIT = 2**16  # unsent bytes before send() waits for the socket to drain
CLOSE_TIMEOUT = 2.0  # seconds to wait for the peer's close frame before aborting
NORMAL_CLOSES = (1000, 1001)


class WSError(LoadgenError):
    """A WebSocket failed: `url`, `status` (HTTP status of the handshake, 0 without one) and
    `error` (the short, low-cardinality reason also used as the `ws_errors` tag)."""

    def __init__(self, message: str, *, url: str, status: int = 0, error: str = "",
                 close_code: int | None = None) -> None:
        super().__init__(message)
        self.url, self.status, self.error, self.close_code = url, status, error, close_code


class WSClosed(WSError):
    """The socket is closed (by the peer, the network, or us) and cannot send or receive."""


class WSTimeout(TimeoutError):
    """No message (recv) or no pong (ping) within the timeout; the socket stays usable."""


def ws_base(base_url: str | None) -> str | None:
    """The WebSocket base for a scenario's HTTP base URL: http -> ws, https -> wss."""
    if not base_url:
        return None
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base_url.startswith(http):
            return ws + base_url[len(http):].rstrip("/")
    return base_url.rstrip("/")


class _Conn(ClientConnection):
    """A websockets connection that counts wire bytes and times sends blocked on a full
    write buffer (the only kind of send that waits)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_in = 0
        self.n_out = 0
        self.on_wait: Callable[[int], None] | None = None
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

    async def drain(self) -> None:
        if not self.paused or self.on_wait is None:
            await super().drain()
            return
        t0 = time.perf_counter_ns()
        try:
            await super().drain()
        finally:
            self.on_wait(time.perf_counter_ns() - t0)


