"""`vu.ws`: one WebSocket client per VU; connect() opens sessions and records k6's session
metrics (failures included)."""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus, InvalidURI

from loadgen.metrics.model import merge_tags
from loadgen.net import errors as neterr
from loadgen.net.client import USER_AGENT
from loadgen.net.fast_pool import tls_context
from loadgen.net.meter import Meter
from loadgen.net.redact import redact, strip_credentials
from loadgen.net.ws import fast
from loadgen.net.ws.conn import (
    CLOSE_TIMEOUT,
    MAX_QUEUE,
    MAX_SIZE,
    SEND_TIMEOUT,
    WRITE_LIMIT,
    WSError,
    WSMetrics,
    ws_base,
)
from loadgen.net.ws.fast import FastConnection

if TYPE_CHECKING:
    from loadgen.net.ws.internals import CountingConnection
from loadgen.net.ws.session import WSSession


class WSClient:
    """One VU's WebSocket client (`vu.ws`): opens sessions and knows the scenario's end.

    It records through the VU's meter; `base_url` is the scenario's HTTP base URL (made
    ws:// or wss://), overridden by `ws_base_url` (WS_BASE_URL)."""

    def __init__(self, meter: Meter, *, base_url: str | None = None,
                 ws_base_url: str | None = None, insecure_skip_tls_verify: bool = False) -> None:
        self.meter = meter
        self._end: int | None = None  # the scenario's end, once known (see end_ns)
        self.insecure = insecure_skip_tls_verify
        self.clock = meter.clock
        self.recorder = meter.recorder
        self.base_url = ws_base_url or ws_base(base_url)
        self.sessions: set[WSSession] = set()
        self.m = WSMetrics(meter.registry)

    # -- the scenario's end (long-lived sockets stop there instead of being interrupted) ----
    @property
    def end_ns(self) -> int | None:
        """When this scenario's executor stops starting work (run clock), None if unknown
        (in setup()/teardown(): they have no end of their own). Once known it stays: the
        engine sets it when the scenario starts."""
        end = self._end
        if end is None:
            end = self._end = self.meter.scenario_end()
        return end

    @property
    def stopping(self) -> bool:
        """True from the scenario's end on. Loops check it once per message (`while not
        vu.ws.stopping`), so the known end is read from here, not looked up again (that was
        four calls through the meter and the runtime per message)."""
        end = self._end
        if end is None:
            end = self.end_ns
        return end is not None and self.clock.now_ns() >= end

    async def until_end(self) -> None:
        """Sleep on the run clock until the scenario's end (forever when it has none)."""
        end = self.end_ns
        if end is None:
            await asyncio.Event().wait()
        else:
            await self.clock.sleep_until(end)

    # -- connecting -----------------------------------------------------------------------
    def url_for(self, url: str) -> str:
        if "://" in url:
            return url
        if not self.base_url:
            raise ValueError(f"relative WebSocket URL {url!r} but no base URL: set the "
                             "scenario's base_url, BASE_URL or WS_BASE_URL")
        return self.base_url + ("" if url.startswith("/") else "/") + url

    def connect(self, url: str, *, headers: Mapping[str, str] | None = None,
                subprotocols: Sequence[str] | None = None, timeout: float = 10.0,
                tags: Mapping[str, str] | None = None, throw: bool = True,
                max_size: int | None = MAX_SIZE, max_queue: int = MAX_QUEUE,
                write_limit: int = WRITE_LIMIT, compression: str | None = None,
                send_timeout: float | None = SEND_TIMEOUT) -> Connecting:
        """Open a session (k6's ws.connect): `ws = await vu.ws.connect(url)`, or
        `async with vu.ws.connect(url) as ws:` (closed on exit), as websockets and aiohttp
        allow. Raises WSError on failure unless throw=False, in which case the session has
        `ok == False`, `status` and `error` set. `send_timeout`: see WSSession.send."""
        return Connecting(self, url, dict(
            headers=headers, subprotocols=subprotocols, timeout=timeout, tags=tags, throw=throw,
            max_size=max_size, max_queue=max_queue, write_limit=write_limit,
            compression=compression, send_timeout=send_timeout))

    async def _connect(self, url: str, *, headers: Mapping[str, str] | None,
                       subprotocols: Sequence[str] | None, timeout: float,  # noqa: ASYNC109
                       tags: Mapping[str, str] | None, throw: bool, max_size: int | None,
                       max_queue: int, write_limit: int, compression: str | None,
                       send_timeout: float | None) -> WSSession:
        clock = self.clock
        conns: list[CountingConnection] = []

        bad_url: ValueError | None = None
        try:
            target = self.url_for(url)
        except ValueError as e:
            target, bad_url = url, e
        t0 = clock.now_ns()
        conn: CountingConnection | FastConnection | None = None
        attempt = fast.Attempt()
        status, error, message = 0, "", ""
        try:
            if bad_url is not None:
                raise bad_url
            tls = tls_context(False) if self.insecure and target.startswith("wss://") else None
            if compression is None:  # the fast path: picows
                hdrs = {"User-Agent": USER_AGENT, **(dict(headers) if headers else {})}
                if subprotocols:
                    hdrs["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
                async with asyncio.timeout(timeout):
                    conn = await fast.connect(
                        target, attempt, headers=hdrs, ssl=tls, max_size=max_size,
                        max_queue=max_queue, write_limit=write_limit,
                        close_timeout=CLOSE_TIMEOUT)
            else:  # permessage-deflate: only websockets speaks it (imported only then)
                from websockets.asyncio.client import connect as ws_connect
                from websockets.typing import Subprotocol

                from loadgen.net.ws.internals import CountingConnection

                def factory(*args: Any, **kwargs: Any) -> CountingConnection:
                    c = CountingConnection(*args, **kwargs)
                    conns.append(c)
                    return c

                extra: dict[str, Any] = {"ssl": tls} if tls else {}
                conn = await ws_connect(  # type: ignore[assignment]
                    target, **extra,
                    additional_headers=dict(headers) if headers else None,
                    subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
                    compression=compression, open_timeout=timeout, ping_interval=None,
                    ping_timeout=None, close_timeout=CLOSE_TIMEOUT, max_size=max_size,
                    max_queue=max_queue, write_limit=write_limit, proxy=None,
                    user_agent_header=USER_AGENT,
                    create_connection=factory)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            # interrupted (graceful stop) while the peer had not finished the handshake: no
            # session to count, but the failure is not dropped
            self.meter.add_bytes(sum(c.n_out for c in conns) + attempt.n_out,
                                 sum(c.n_in for c in conns) + attempt.n_in)
            # the wait so far is a lower bound of the connect time: recorded, not dropped
            t1 = clock.now_ns()
            ts = merge_tags(self.meter.tags.sample_tags, {
                "url": strip_credentials(target), "status": "0", "subproto": ""}, tags)
            self.recorder.sample(self.m.connecting, (t1 - t0) / 1e6, ts, t0)
            self.recorder.sample(self.m.errors, 1.0,
                                 merge_tags(ts, {"error": "connect interrupted"}), t1)
            raise
        except Exception as e:  # noqa: BLE001 - every failure becomes a recorded session
            status, error, message = self._classify(e, conns, attempt)
        t1 = clock.now_ns()
        if conn is not None:
            subproto = conn.subprotocol or ""
            status = 101
        else:
            subproto = ""
            self.meter.add_bytes(sum(c.n_out for c in conns) + attempt.n_out,
                                 sum(c.n_in for c in conns) + attempt.n_in)
        ts = merge_tags(self.meter.tags.sample_tags, {
            "url": strip_credentials(target), "status": str(status), "subproto": subproto},
            tags)
        rec = self.recorder
        rec.sample(self.m.connecting, (t1 - t0) / 1e6, ts, t0)
        shown = redact(target)  # what messages and errors name: never a password
        session = WSSession(self.meter, self.m, self.sessions, conn, shown, ts, t0, status,
                            subproto, error, send_timeout)
        if conn is None:
            rec.sample(self.m.errors, 1.0, merge_tags(ts, {"error": error}), t1)
            session._finish(t1)
            if throw:
                raise WSError(f"WebSocket {shown}: {redact(message)}", url=shown,
                              status=status, error=error)
            return session
        self.sessions.add(session)
        return session

    def _classify(self, e: Exception, conns: list[CountingConnection],
                  attempt: fast.Attempt) -> tuple[int, str, str]:
        """(HTTP status or 0, short error tag, message naming the URL) for a failed connect."""
        resp = conns[-1].response if conns else None
        status = resp.status_code if resp is not None else attempt.status
        if isinstance(e, fast.WSHandshakeError):
            if attempt.status and attempt.status != 101:  # a 101 with bad headers: below
                return (status, f"handshake: HTTP {status}",
                        f"handshake refused: HTTP {status} {attempt.reason}")
            return (status, "handshake: not a WebSocket endpoint",
                    f"bad handshake (not a WebSocket endpoint?): {e}")
        if isinstance(e, fast.HandshakeEOF):
            return (status, "handshake: unexpected EOF",
                    f"the server closed the connection during the handshake ({e})")
        if isinstance(e, InvalidStatus):
            status = e.response.status_code
            return (status, f"handshake: HTTP {status}",
                    f"handshake refused: HTTP {status} {e.response.reason_phrase}")
        if isinstance(e, InvalidURI | ValueError | fast.WSInvalidURL) and not (
                conns or attempt.dialed):
            return 0, "invalid url", f"invalid WebSocket URL: {e}"
        if isinstance(e, InvalidMessage) and isinstance(e.__cause__, EOFError):
            return (status, "handshake: unexpected EOF",  # not "not a WebSocket endpoint"
                    f"the server closed the connection during the handshake ({e.__cause__})")
        if isinstance(e, InvalidHandshake):
            return (status, "handshake: not a WebSocket endpoint",
                    f"bad handshake (not a WebSocket endpoint?): {e}")
        if isinstance(e, TimeoutError):
            return status, "handshake timeout", "connect timed out"
        code, msg = neterr.classify(
            e, connecting=not attempt.upgraded if attempt.dialed else not conns or resp is None)
        return status, msg, f"connect failed: {msg} (k6 error code {code})"

    async def close_all(self) -> None:
        """Close every session this VU still holds (run end)."""
        await asyncio.gather(*(s.close() for s in list(self.sessions)), return_exceptions=True)


class Connecting:
    """What `vu.ws.connect()` returns: awaited, the session; used with `async with`, the
    session, closed on exit. The connect starts on first use, so a connect() that is never
    awaited opens nothing (and leaves no un-awaited coroutine behind)."""

    __slots__ = ("client", "url", "kwargs", "session")

    def __init__(self, client: WSClient, url: str, kwargs: dict[str, Any]) -> None:
        self.client, self.url, self.kwargs = client, url, kwargs
        self.session: WSSession | None = None

    def __await__(self) -> Generator[Any, None, WSSession]:
        return self.client._connect(self.url, **self.kwargs).__await__()

    async def __aenter__(self) -> WSSession:
        self.session = await self
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def __getattr__(self, name: str) -> Any:
        """`ws = vu.ws.connect(url)` without `await`, then `ws.send(...)`: say so."""
        raise AttributeError(f"{name!r}: vu.ws.connect() was not awaited; write "
                             "`ws = await vu.ws.connect(url)` or `async with "
                             "vu.ws.connect(url) as ws:`")


