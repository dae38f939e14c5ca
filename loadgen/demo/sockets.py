"""Open WebSockets: who holds which socket, and closing them with a proper handshake.

Why closing is done this way: aiohttp's `ws.close()` called from *another* task (an admin
request, the outbox consumer, shutdown) sends the close frame and then drops the TCP
connection at once, so clients see an abnormal 1006 instead of the code we sent. Instead
a close request is recorded and the socket's own handler task is cancelled out of its
receive loop; `run_socket` catches that, and the handler closes its socket itself, which
waits for the client's close frame. Nothing is paid per message for this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMessage, WSMsgType, web

from loadgen.demo.metrics import DemoMetrics

_CLOSE_WAIT_S = 1.0


def _new_future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True)
class _Session:
    kind: str  # "messaging" or "echo"
    user: str | None
    task: asyncio.Task[object] | None
    gone: asyncio.Future[None] = field(default_factory=_new_future)
    close_request: tuple[int, bytes] | None = None


class SocketRegistry:
    def __init__(self, metrics: DemoMetrics) -> None:
        self._metrics = metrics
        self._sessions: dict[web.WebSocketResponse, _Session] = {}
        self._by_user: dict[str, set[web.WebSocketResponse]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, ws: web.WebSocketResponse, kind: str, user: str | None = None) -> None:
        """Called by the handler task itself, right after the handshake."""
        task = asyncio.current_task()
        self._sessions[ws] = _Session(kind, user, task)
        if user is not None:
            self._by_user.setdefault(user, set()).add(ws)
        self._metrics.ws_connections.labels(kind).inc()

    def remove(self, ws: web.WebSocketResponse) -> None:
        session = self._sessions.pop(ws, None)
        if session is None:
            return
        if session.user is not None:
            sockets = self._by_user.get(session.user)
            if sockets is not None:
                sockets.discard(ws)
                if not sockets:
                    del self._by_user[session.user]
        self._metrics.ws_connections.labels(session.kind).dec()
        if not session.gone.done():
            session.gone.set_result(None)

    def of_user(self, user: str) -> list[web.WebSocketResponse]:
        return list(self._by_user.get(user, ()))

    def pending_close(self, ws: web.WebSocketResponse) -> tuple[int, bytes] | None:
        session = self._sessions.get(ws)
        return None if session is None else session.close_request

    def request_close(
        self, ws: web.WebSocketResponse, code: int, message: bytes = b""
    ) -> asyncio.Future[None] | None:
        """Ask the socket's handler to close it; the future resolves once it is gone."""
        session = self._sessions.get(ws)
        if session is None:
            return None
        if session.close_request is None:
            session.close_request = (code, message)
            if session.task is not None and session.task is not asyncio.current_task():
                session.task.cancel()
        return session.gone

    async def close_all(self, code: int, message: bytes = b"", *, wait: bool = True) -> int:
        """Close every open socket with `code`; returns how many were asked to close.

        wait=True waits (about a second at most) for the close handshakes to finish;
        wait=False only lets the handlers run once, which is enough for their close
        frames to be written (a client that is not reading could not answer anyway).
        """
        waits = [f for ws in list(self._sessions) if (f := self.request_close(ws, code, message))]
        if waits and wait:
            await asyncio.wait(waits, timeout=_CLOSE_WAIT_S)
        elif waits:
            await asyncio.sleep(0)
        return len(waits)


async def run_socket(
    registry: SocketRegistry,
    ws: web.WebSocketResponse,
    on_message: Callable[[WSMessage], Awaitable[None]],
    close_code: int | None = None,
) -> None:
    """The receive loop of one socket, until the peer closes or a close is requested.

    `close_code` set: close right away (the close fault for freshly opened sockets).
    """
    try:
        if close_code is not None:
            await ws.close(code=close_code, message=b"injected fault")
            return
        async for msg in ws:  # ends when the peer closes; bounded by the connection
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not ws.closed:
                await on_message(msg)
    except asyncio.CancelledError:
        request = registry.pending_close(ws)
        task = asyncio.current_task()
        if request is None or task is None:
            raise
        task.uncancel()
        with contextlib.suppress(ConnectionError):
            await ws.close(code=request[0], message=request[1])
    except ConnectionError:  # the peer vanished mid-send; nothing left to answer
        pass
