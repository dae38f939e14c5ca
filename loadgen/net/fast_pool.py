"""Connections for the fast transport: the keep-alive pool, DNS, TCP connect and TLS.

One pool per VU by default (k6 gives each VU its own connections); a pool can also be shared
by several transports, optionally with a per-host connection limit, in which case a request
that finds none free waits for one and that wait is k6's `blocked` phase.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections import deque

from loadgen.net.fast_conn import Conn
from loadgen.net.fast_request import Head

Key = tuple[str, str, int]

DNS_TTL = 300.0  # seconds; k6's default dns ttl is 5m
_DNS: dict[tuple[str, int], tuple[float, list[tuple[int, str]]]] = {}
_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def tls_context(verify: bool) -> ssl.SSLContext:
    """One client context per verification mode for the process (loading the CA store
    costs milliseconds; every VU can share it)."""
    ctx = _CONTEXTS.get(verify)
    if ctx is None:
        if verify:
            ctx = ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        _CONTEXTS[verify] = ctx
    return ctx


def tls_version_tag(transport: asyncio.BaseTransport) -> str:
    """k6's tls_version tag: "TLSv1.3" -> "tls1.3"."""
    obj = transport.get_extra_info("ssl_object")
    version = obj.version() if obj is not None else None
    return version.lower().replace("tlsv", "tls") if version else ""


async def resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) to try in order: IPv4 first (k6's preferIPv4), cached for DNS_TTL."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, host)]
    now = time.monotonic()
    hit = _DNS.get((host, port))
    if hit is not None and hit[0] > now:
        return hit[1]
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addrs: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        item = (int(family), str(sockaddr[0]))
        if item not in addrs:
            addrs.append(item)
    addrs.sort(key=lambda a: a[0] != socket.AF_INET)
    _DNS[(host, port)] = (now + DNS_TTL, addrs)
    return addrs


class ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port), newest first.

    `max_per_host` (None = unlimited) bounds the open connections per key; only useful
    for a pool shared by many transports.
    """

    __slots__ = ("idle", "open", "max_per_host", "count", "waiters")

    def __init__(self, max_per_host: int | None = None) -> None:
        self.idle: dict[Key, list[Conn]] = {}
        self.open: set[Conn] = set()
        self.max_per_host = max_per_host
        self.count: dict[Key, int] = {}
        self.waiters: dict[Key, deque[asyncio.Future[Conn | None]]] = {}

    def take(self, key: Key) -> Conn | None:
        """An idle live connection for key, or None (the hot path: a dict get, a pop)."""
        idle = self.idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
            self.discard(conn)
        return None

    def full(self, key: Key) -> bool:
        return self.max_per_host is not None and self.count.get(key, 0) >= self.max_per_host

    async def wait(self, key: Key) -> Conn | None:
        """Wait until a connection for key is released (returned) or closed (None: the
        caller may open one)."""
        fut: asyncio.Future[Conn | None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(key, deque()).append(fut)
        try:
            return await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and (conn := fut.result()) is not None:
                self.put(conn)  # handed over just as we gave up: pass it on
            else:
                q = self.waiters.get(key)
                if q is not None and fut in q:
                    q.remove(fut)
            raise

    def _wake(self, key: Key, conn: Conn | None) -> bool:
        q = self.waiters.get(key)
        while q:
            fut = q.popleft()
            if not fut.done():
                fut.set_result(conn)
                return True
        return False

    def reserve(self, key: Key) -> None:
        """Count a connection for key from the moment it starts opening, so concurrent
        requests cannot all open one past the limit."""
        if self.max_per_host is not None:
            self.count[key] = self.count.get(key, 0) + 1

    def unreserve(self, key: Key) -> None:
        """Opening failed: give the slot back (and let a waiter try)."""
        if self.max_per_host is not None:
            self.count[key] -= 1
            if self.waiters:
                self._wake(key, None)

    def added(self, conn: Conn) -> None:
        self.open.add(conn)

    def put(self, conn: Conn) -> None:
        """Return a connection after a complete response."""
        if conn.closed:
            self.discard(conn)
        elif not (self.waiters and self._wake(conn.key, conn)):
            idle = self.idle.get(conn.key)
            if idle is None:
                self.idle[conn.key] = [conn]
            else:
                idle.append(conn)

    def discard(self, conn: Conn) -> None:
        """Forget a connection (closing it if it is not closed yet)."""
        if not conn.closed:
            conn.abort()
        if conn in self.open:
            self.open.discard(conn)
            if self.max_per_host is not None:
                self.count[conn.key] -= 1
                if self.waiters:
                    self._wake(conn.key, None)

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.open.clear()
        self.idle.clear()
        self.count.clear()
        for q in self.waiters.values():
            for fut in q:
                if not fut.done():
                    fut.set_result(None)
        self.waiters.clear()


class Opened:
    """The outcome of opening a connection: the connection, or the exception, and when
    each phase ended (perf_counter_ns)."""

    __slots__ = ("conn", "exc", "t_connect", "t_connected", "t_tls", "phase")

    def __init__(self) -> None:
        self.conn: Conn | None = None
        self.exc: BaseException | None = None
        self.t_connect = self.t_connected = self.t_tls = 0
        self.phase = "dns"  # where it stopped: dns, connect, tls, done


async def open_conn(loop: asyncio.AbstractEventLoop, h: Head, ctx: ssl.SSLContext | None, *,
                    cap: int | None, keep_body: bool) -> Opened:
    """DNS (counted in `blocked`, as k6), TCP connect, then TLS with its own timing.

    Never raises except for cancellation (a timeout around it cancels it).
    """
    out = Opened()
    raw: asyncio.Transport | None = None
    try:
        addrs = await resolve(loop, h.host, h.port)
        out.phase = "connect"
        out.t_connect = time.perf_counter_ns()
        conn = Conn(loop, h.key, cap=cap, keep_body=keep_body)
        last: BaseException | None = None
        for _, addr in addrs:
            try:
                raw, _ = await loop.create_connection(lambda: conn, addr, h.port)
                break
            except OSError as e:
                last = e
        if raw is None:
            raise last or OSError("no address to connect to")
        out.t_connected = time.perf_counter_ns()
        if ctx is not None:
            out.phase = "tls"
            tls = await loop.start_tls(raw, conn, ctx, server_hostname=h.host)
            if tls is None:
                raise ConnectionResetError("connection closed during the TLS handshake")
            conn.transport = tls
            conn.tls_version = tls_version_tag(tls)
            out.t_tls = time.perf_counter_ns()
        out.phase = "done"
        out.conn = conn
    except asyncio.CancelledError:
        if raw is not None:
            raw.abort()
        raise
    except Exception as e:  # noqa: BLE001 - reported as a k6 error code by the caller
        if raw is not None:
            raw.abort()
        out.exc = e
    return out
