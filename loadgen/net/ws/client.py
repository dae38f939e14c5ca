"""`vu.ws`: one WebSocket client per VU; connect() opens sessions and records k6's session
metrics (failures included)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from loadgen.metrics.model import Contains, MetricType, merge_tags, tagset
from loadgen.net import errors as neterr
from loadgen.net.client import USER_AGENT, strip_credentials
from loadgen.net.ws.conn import (
    CLOSE_TIMEOUT,
    MAX_QUEUE,
    MAX_SIZE,
    WRITE_LIMIT,
    WSError,
    _Conn,
    ws_base,
)

if TYPE_CHECKING:
    from loadgen.scripting.vu import VU

from loadgen.net.ws.session import WSSession


class WSClient:
    """One VU's WebSocket client (`vu.ws`): opens sessions and knows the scenario's end."""

    def __init__(self, vu: VU) -> None:
        self.vu = vu
        rt = vu.rt
        self.clock = rt.clock
        self.recorder = rt.recorder
        self.base_url = vu.env.get("WS_BASE_URL") or ws_base(rt.base_url)
        self.sessions: set[WSSession] = set()
        reg = rt.run.registry
        self.m = {name: reg[name] for name in (
            "ws_sessions", "ws_connecting", "ws_session_duration", "ws_msgs_sent",
            "ws_msgs_received", "ws_ping", "data_sent", "data_received")}
        for name, mtype, contains in (
                ("ws_unexpected_disconnects", MetricType.COUNTER, Contains.DEFAULT),
                ("ws_errors", MetricType.COUNTER, Contains.DEFAULT),
                ("ws_send_wait", MetricType.TREND, Contains.TIME),
                ("ws_queue_depth", MetricType.GAUGE, Contains.DEFAULT)):
            self.m[name] = reg.get(name) or reg.define(name, mtype, contains)
        # Until the engine publishes rt.end_ns, estimate the start from the first use.
        rt.__dict__.setdefault("_ws_first_use_ns", self.clock.now_ns())
        self._end_estimate: int | None = None

    # -- the scenario's end (long-lived sockets stop there instead of being interrupted) ----
    @property
    def end_ns(self) -> int | None:
        """When this scenario's executor stops starting work (run clock), None if unknown."""
        rt = self.vu.rt
        end = getattr(rt, "end_ns", None)
        if end is not None:
            return int(end)
        if self._end_estimate is None and rt.executor is not None:
            try:
                self._end_estimate = int(rt.__dict__["_ws_first_use_ns"]
                                         + rt.executor.duration_ns())
            except (NotImplementedError, ValueError, TypeError):
                self._end_estimate = None
        return self._end_estimate  # None in setup()/teardown(): no end of their own

    @property
    def stopping(self) -> bool:
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

    async def connect(self, url: str, *, headers: Mapping[str, str] | None = None,
                      subprotocols: Sequence[str] | None = None, timeout: float = 10.0,  # noqa: ASYNC109
                      tags: Mapping[str, str] | None = None, throw: bool = True,
                      max_size: int | None = MAX_SIZE, max_queue: int = MAX_QUEUE,
                      write_limit: int = WRITE_LIMIT, compression: str | None = None,
                      ) -> WSSession:
        """Open a session (k6's ws.connect). Raises WSError on failure unless throw=False, in
        which case the returned session has `ok == False`, `status` and `error` set."""
        vu, clock = self.vu, self.clock
        conns: list[_Conn] = []

        def factory(*args: Any, **kwargs: Any) -> _Conn:
            c = _Conn(*args, **kwargs)
            conns.append(c)
            return c

        bad_url: ValueError | None = None
        try:
            target = self.url_for(url)
        except ValueError as e:
            target, bad_url = url, e
        t0 = clock.now_ns()
        conn: _Conn | None = None
        status, error, message = 0, "", ""
        try:
            if bad_url is not None:
                raise bad_url
            conn = await ws_connect(  # type: ignore[assignment]
                target, additional_headers=dict(headers) if headers else None,
                subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
                compression=compression, open_timeout=timeout, ping_interval=None,
                ping_timeout=None, close_timeout=CLOSE_TIMEOUT, max_size=max_size,
                max_queue=max_queue, write_limit=write_limit, proxy=None,
                user_agent_header=USER_AGENT, create_connection=factory)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            self._add_bytes(sum(c.n_out for c in conns), sum(c.n_in for c in conns))
            raise
        except Exception as e:  # noqa: BLE001 - every failure becomes a recorded session
            status, error, message = self._classify(e, conns)
        t1 = clock.now_ns()
        if conn is not None:
            subproto = conn.subprotocol or ""
            status = 101
        else:
            subproto = ""
            self._add_bytes(sum(c.n_out for c in conns), sum(c.n_in for c in conns))
        d = dict(vu.sample_tags)
        d.update(url=strip_credentials(target), status=str(status), subproto=subproto)
        if tags:
            d.update({k: str(v) for k, v in tags.items()})
        ts = tagset(d)
        rec = self.recorder
        rec.sample(self.m["ws_connecting"], (t1 - t0) / 1e6, ts, t0)
        session = WSSession(self, conn, target, ts, t0, status, subproto, error)
        if conn is None:
            rec.sample(self.m["ws_errors"], 1.0, merge_tags(ts, {"error": error}), t1)
            session._finish(t1)
            if throw:
                raise WSError(f"WebSocket {target}: {message}", url=target, status=status,
                              error=error)
            return session
        self.sessions.add(session)
        return session

    def _classify(self, e: Exception, conns: list[_Conn]) -> tuple[int, str, str]:
        """(HTTP status or 0, short error tag, message naming the URL) for a failed connect."""
        resp = conns[-1].response if conns else None
        status = resp.status_code if resp is not None else 0
        if isinstance(e, InvalidStatus):
            status = e.response.status_code
            return (status, f"handshake: HTTP {status}",
                    f"handshake refused: HTTP {status} {e.response.reason_phrase}")
        if isinstance(e, InvalidURI | ValueError) and not conns:
            return 0, "invalid url", f"invalid WebSocket URL: {e}"
        if isinstance(e, InvalidHandshake):
            return (status, "handshake: not a WebSocket endpoint",
                    f"bad handshake (not a WebSocket endpoint?): {e}")
        if isinstance(e, TimeoutError):
            return status, "handshake timeout", "connect timed out"
        code, msg = neterr.classify(e, connecting=not conns or resp is None)
        return status, msg, f"connect failed: {msg} (k6 error code {code})"

    def _add_bytes(self, sent: int, received: int) -> None:
        """Wire bytes go to the VU (emitted at its iteration end); setup/teardown VUs have no
        later iteration end, so theirs are recorded directly."""
        if not (sent or received):
            return
        vu = self.vu
        if vu.rt.executor is None:
            now, ts = self.clock.now_ns(), vu.sample_tags
            self.recorder.sample(self.m["data_sent"], float(sent), ts, now)
            self.recorder.sample(self.m["data_received"], float(received), ts, now)
        else:
            vu.bytes_sent += sent
            vu.bytes_received += received

    async def close_all(self) -> None:
        """Close every session this VU still holds (run end)."""
        await asyncio.gather(*(s.close() for s in list(self.sessions)), return_exceptions=True)


