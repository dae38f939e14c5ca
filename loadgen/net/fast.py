"""The default transport: a keep-alive HTTP/1.1 client on asyncio's Protocol API (uvloop in
real runs) with httptools' llhttp parser.

Why not aiohttp: measured on one core against nginx, aiohttp's client does ~11k req/s while a
bare Protocol + llhttp client does ~96k (ARCHITECTURE.md). The request path here is therefore
written for its cost: a cached pre-encoded request head (fast_request), a pooled connection
taken with a dict lookup and a list pop, one write, one awaited future resolved by the
protocol (fast_conn), no per-request timer and no logging. Everything unusual (connect, TLS,
retries, errors, decompression) is off that path.

Contract (net/types.py): one hop per send(); never raises for network or protocol trouble,
it answers status 0 with k6's `error`/`error_code`. What it cannot do (proxies, schemes other
than http/https) it reports as an error that names `--http-client aiohttp`.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Coroutine, Sequence
from time import perf_counter_ns
from typing import Any

from loadgen.net import errors as neterr
from loadgen.net import limits
from loadgen.net.fast_conn import Conn
from loadgen.net.fast_headers import content_encoding, make_raw_headers
from loadgen.net.fast_pool import ConnectionPool, open_conn, tls_context
from loadgen.net.fast_request import _CACHE, Head, head_for
from loadgen.net.types import (
    Headers,
    RawResponse,
    Request,
    Timings,
    make_raw_response,
)

__all__ = ["ConnectionPool", "FastTransport"]

# A reused connection that fails with one of these before any response byte was probably
# closed by the server while idle (keep-alive race): an idempotent request is retried once.
# (1000 with no byte received is "EOF"; every other 1000 needs response bytes.)
_RETRY_CODES = frozenset((neterr.DEFAULT, neterr.TCP_RESET, neterr.TCP_BROKEN_PIPE))


class _Failed(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _decode(enc: bytes, body: bytes, cap: int | None) -> bytes:
    """Undo gzip/deflate Content-Encoding (others are left as they are, like `br`, which we
    never ask for). Raises _Failed with k6's 1701 on a broken stream."""
    if enc in (b"gzip", b"x-gzip"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif enc == b"deflate":  # RFC says zlib-wrapped; some servers send raw deflate
        d = zlib.decompressobj(zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
    else:
        return body
    try:  # max_length: a bomb inflates to cap + 1 bytes at most, never to its full size
        out = d.decompress(body, 0 if cap is None else cap + 1)
    except zlib.error as e:
        raise _Failed(*neterr.decompression(str(e))) from None
    if cap is not None and len(out) > cap:
        raise _Failed(*limits.body_too_large(cap, decompressed=True))
    if not d.eof:
        raise _Failed(*neterr.decompression("unexpected EOF"))
    return out


def _error(code: int, message: str, sent: int = 0, received: int = 0) -> RawResponse:
    return RawResponse(0, Headers(), b"", "", Timings(), message, code, sent, received)


class FastTransport:
    """HTTP/1.1 keep-alive transport; one instance (= one connection pool) per VU.

    Options:
      insecure_skip_tls_verify: do not verify certificates (k6's insecureSkipTLSVerify).
      ssl_context: a client context of your own (e.g. trusting a private CA); overrides the
        above.
      connect_timeout: seconds for TCP connect + TLS handshake (k6 code 1211 when it is what
        expires; the request timeout, code 1050, still bounds the whole hop).
      max_response_bytes: a body larger than this (on the wire or decompressed) ends the
        request with an error and drops the connection; 0 or None = no cap. A request's own
        `max_response_bytes` takes precedence. Default: limits.DEFAULT_MAX_RESPONSE_BYTES.
      discard_response_bodies: count body bytes but keep none (k6's discardResponseBodies).
      pool: a ConnectionPool shared with other transports (then close() leaves it open);
        default: a pool of this instance's own.
      max_connections_per_host: bound for this instance's own pool (requests beyond it wait,
        in `blocked`); None = unlimited.

    Counters (for honesty in reports): `retries` (idempotent requests re-sent once after a
    pooled connection turned out closed), `connects` (connections opened).
    """

    def __init__(self, *, insecure_skip_tls_verify: bool = False,
                 ssl_context: ssl.SSLContext | None = None, connect_timeout: float = 30.0,
                 max_response_bytes: int | None = limits.DEFAULT_MAX_RESPONSE_BYTES,
                 discard_response_bodies: bool = False,
                 pool: ConnectionPool | None = None,
                 max_connections_per_host: int | None = None) -> None:
        self.insecure = insecure_skip_tls_verify
        self._ssl = ssl_context
        self.connect_timeout = connect_timeout
        self.max_response_bytes = max_response_bytes
        self.discard = discard_response_bodies
        self._own_pool = pool is None
        self.pool = ConnectionPool(max_connections_per_host) if pool is None else pool
        self._loop: asyncio.AbstractEventLoop | None = None
        self.retries = 0
        self.connects = 0

    def send(self, request: Request) -> Coroutine[Any, Any, RawResponse]:
        """The Transport method: exchange()'s coroutine for the request's fields."""
        return self.exchange(request.method, request.url, request.headers, request.body,
                             request.timeout, request.max_response_bytes)

    async def exchange(self, method: str, url: str, headers: Sequence[tuple[str, str]],
                       body: bytes | None, timeout: float,  # noqa: ASYNC109
                       cap: int | None,
                       retry: tuple[int, int, float] | None = None) -> RawResponse:
        """send() without a Request object: the HTTP client calls this directly (one object
        fewer per request).

        `retry` = (t0, bytes sent, deadline): the C plain GET (net/_get.c) wrote this
        request on a pooled connection that turned out closed; this sends it once more on
        a fresh connection, as the loop below does for its own stale connections."""
        t0 = perf_counter_ns()
        h = _CACHE.get((method, url, tuple(headers)))
        if h is None:
            h = head_for(method, url, headers)
        if h.error_code:
            return _error(h.error_code, h.error)
        cap = self.max_response_bytes if cap is None else cap
        data = h.end if body is None else h.with_body(body)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        pool = self.pool
        if retry is None:
            deadline = loop.time() + timeout
            idle = pool.idle.get(h.key)
            conn = idle.pop() if idle else None
            if conn is not None and conn.closed:
                pool.discard(conn)
                conn = pool.take(h.key)
            sent = 0
            retried = False
        else:
            t0, sent, deadline = retry
            conn = None
            retried = True
        t_ready = t_block = t0  # a pooled connection at hand: blocked 0
        connecting = tls = 0
        while True:
            if conn is None:
                got = await self._new_conn(h, deadline, retried)
                if isinstance(got, RawResponse):
                    got.bytes_sent = sent
                    return got
                conn, t_block, t_conn, t_ready = got
                connecting = t_conn - t_block
                tls = t_ready - t_conn
            reused = conn.used
            fut = conn.send(data, h.is_head, deadline, cap)
            sent += len(data)
            try:
                await fut
            except asyncio.CancelledError:
                pool.discard(conn)  # the response may still come: the stream is unusable
                raise
            if not conn.err_code:
                break
            pool.discard(conn)
            if (reused and not retried and not conn.nrecv and h.idempotent
                    and conn.err_code in _RETRY_CODES):
                retried = True
                self.retries += 1
                conn = None
                continue
            return _error(conn.err_code, conn.err_msg, sent, conn.nrecv)
        return self.finish(conn, body, cap, t0, t_block, t_ready, connecting, tls, sent)

    def finish(self, conn: Conn, body: bytes | None, cap: int | None, t0: int, t_block: int,
               t_ready: int, connecting: int, tls: int, sent: int) -> RawResponse:
        """The response of a request that ended without error on `conn` (decoded), and the
        connection back to the pool (or closed). Also the C plain GET's way out for a
        response it does not build itself (net/_get.c)."""
        pool = self.pool
        if body is not None and conn.transport.get_write_buffer_size():
            conn.keep = False  # answered before the body was all sent: the stream is dirty
        received = conn.nrecv
        head = conn.head or b""
        lower = None
        raw = conn.body
        plain = conn.plain
        if raw is None:
            content = b""
        elif plain:  # the C parser saw no Content-Encoding: the bytes as they came
            content = raw  # type: ignore[assignment]
        else:
            content = raw if type(raw) is bytes else bytes(raw)
            lower = head.lower()
            enc = content_encoding(lower)
            if enc:
                try:
                    content = _decode(enc, content, cap or None)
                except _Failed as e:
                    pool.discard(conn)
                    return _error(e.code, e.message, sent, received)
        if conn.keep and not conn.closed:
            idle = pool.idle.get(conn.key)
            if idle is not None and not pool.waiters:
                idle.append(conn)  # ConnectionPool.put's common case, inlined
            else:
                pool.put(conn)
        else:
            conn.close()
            pool.discard(conn)
        timings = conn.timings(t0, t_block, t_ready, connecting, tls)
        return make_raw_response(conn.status, make_raw_headers(head, lower, False, not plain),
                                 content, conn.proto, timings, "", 0, sent, received,
                                 conn.tls_version)

    async def _new_conn(self, h: Head, deadline: float,
                        fresh: bool) -> tuple[Conn, int, int, int] | RawResponse:
        """A connection for h: one released by another request when the pool is full, or a
        new one. Returns (conn, end of blocked, end of connecting, end of TLS) in ns."""
        loop = self._loop
        assert loop is not None
        pool = self.pool
        try:
            async with asyncio.timeout_at(deadline):
                while not fresh and pool.full(h.key):
                    waited = await pool.wait(h.key)
                    if waited is not None:
                        if not waited.closed:
                            now = perf_counter_ns()
                            return waited, now, now, now
                        pool.discard(waited)
        except TimeoutError:
            return _error(neterr.REQUEST_TIMEOUT, "request timeout")
        ctx = (self._ssl or tls_context(not self.insecure)) if h.tls else None
        remaining = deadline - loop.time()
        limit = min(self.connect_timeout, remaining)
        pool.reserve(h.key)
        try:
            async with asyncio.timeout(max(limit, 0.0)):
                opened = await open_conn(loop, h, ctx, cap=None,
                                         keep_body=not self.discard)
        except TimeoutError:
            pool.unreserve(h.key)
            if remaining <= self.connect_timeout:
                return _error(neterr.REQUEST_TIMEOUT, "request timeout")
            return _error(neterr.TCP_DIAL_TIMEOUT, "dial: i/o timeout")
        except BaseException:
            pool.unreserve(h.key)
            raise
        if opened.exc is not None or opened.conn is None:
            pool.unreserve(h.key)
            exc = opened.exc or OSError("connection failed")
            return _error(*neterr.classify(exc, connecting=True))
        self.connects += 1
        pool.added(opened.conn)
        t_tls = opened.t_tls or opened.t_connected
        return opened.conn, opened.t_connect, opened.t_connected, t_tls

    async def close(self) -> None:
        if self._own_pool:
            self.pool.close()
