"""The same requests through both transports, which must agree on status, body and k6 error
codes (net/types.py's contract). Where aiohttp cannot produce what the fast transport does,
the difference is asserted explicitly, so a change on either side shows up here."""

from __future__ import annotations

import asyncio
import time

import pytest
from net_helpers import BIG, TEXT, BlackHole, RawServer, make_transport, read_request, reset

from loadgen.net import errors as neterr
from loadgen.net.fast import FastTransport
from loadgen.net.types import RawResponse, Request, Transport


async def get(t: Transport, url: str, **kw: object) -> RawResponse:
    return await t.send(Request("GET", url, **kw))  # type: ignore[arg-type]


# -- well-behaved HTTP ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_methods(transport: Transport, base: str, method: str) -> None:
    body = None if method in ("GET", "OPTIONS", "DELETE") else b"payload-" + method.encode()
    r = await transport.send(Request(method, f"{base}/echo", [("X-Test", "1")], body))
    assert (r.status, r.error_code, r.error) == (200, 0, "")
    assert r.headers["x-method"] == method
    assert r.body == (body or b"")
    assert r.proto == "HTTP/1.1"
    assert r.bytes_sent > 0 and r.bytes_received > len(r.body)


async def test_large_request_body(transport: Transport, base: str) -> None:
    r = await transport.send(Request("POST", f"{base}/echo", [], BIG))
    assert r.status == 200
    assert r.headers["X-Content-Length"] == str(len(BIG))
    assert r.body == BIG
    assert r.bytes_sent > len(BIG)


async def test_post_without_body_sends_zero_length(transport: Transport, base: str) -> None:
    r = await transport.send(Request("POST", f"{base}/echo"))
    assert r.status == 200
    assert r.headers["X-Content-Length"] == "0"


async def test_host_header(transport: Transport, base: str) -> None:
    r = await transport.send(Request("GET", f"{base}/echo"))
    assert r.headers["X-Host"] == base.removeprefix("http://")


async def test_content_length_and_chunked(transport: Transport, base: str) -> None:
    r = await get(transport, f"{base}/text")
    assert (r.status, r.body) == (200, TEXT)
    assert r.headers.get("content-length") == str(len(TEXT))
    r = await get(transport, f"{base}/chunked")
    assert (r.status, r.body) == (200, b"chunk0;chunk1;chunk2;chunk3;chunk4;")
    assert "chunked" in (r.headers.get("Transfer-Encoding") or "")


async def test_large_response(transport: Transport, base: str) -> None:
    r = await get(transport, f"{base}/big")
    assert r.status == 200 and r.body == BIG
    assert r.bytes_received >= len(BIG)


@pytest.mark.parametrize("path", ["gzip", "deflate"])
async def test_content_encoding(transport: Transport, base: str, path: str) -> None:
    r = await get(transport, f"{base}/{path}")
    assert (r.status, r.body, r.error_code) == (200, TEXT * 10, 0)
    assert r.headers["Content-Encoding"] == path


async def test_head_then_reuse(transport: Transport, base: str) -> None:
    r = await transport.send(Request("HEAD", f"{base}/text"))
    assert (r.status, r.body) == (200, b"")
    assert r.headers["Content-Length"] == str(len(TEXT))
    r2 = await get(transport, f"{base}/text")
    assert (r2.status, r2.body) == (200, TEXT)
    assert r2.timings.connecting == 0  # the HEAD's connection was kept and reused


@pytest.mark.parametrize("status", [204, 304, 404, 500, 503])
async def test_statuses(transport: Transport, base: str, status: int) -> None:
    r = await get(transport, f"{base}/status/{status}")
    assert r.status == status
    assert r.error_code == 0  # 1000 + status is the client's job (net/client.py)
    assert r.body == (b"" if status in (204, 304) else b"status %d" % status)
    r2 = await get(transport, f"{base}/text")
    assert (r2.status, r2.timings.connecting) == (200, 0)


async def test_keep_alive_reuse(transport: Transport, base: str) -> None:
    rs = [await get(transport, f"{base}/text") for _ in range(4)]
    assert all(r.status == 200 for r in rs)
    assert rs[0].timings.connecting > 0
    assert [r.timings.connecting for r in rs[1:]] == [0, 0, 0]
    for r in rs:
        t = r.timings
        assert t.waiting > 0 and t.duration == pytest.approx(t.sending + t.waiting + t.receiving)


async def test_connection_close(transport: Transport, base: str) -> None:
    rs = [await get(transport, f"{base}/close") for _ in range(2)]
    assert [(r.status, r.body) for r in rs] == [(200, TEXT), (200, TEXT)]
    assert all(r.timings.connecting > 0 for r in rs)  # each on a new connection


async def test_slow_server_within_timeout(transport: Transport, base: str) -> None:
    r = await get(transport, f"{base}/slow/200", timeout=5.0)
    assert r.status == 200
    assert r.timings.waiting >= 150


# -- TLS ----------------------------------------------------------------------------------
async def test_tls_verification_fails_on_self_signed(transport: Transport, tls_port: int) -> None:
    r = await get(transport, f"https://127.0.0.1:{tls_port}/text")
    assert (r.status, r.error_code) == (0, neterr.X509_UNKNOWN_AUTHORITY)
    assert r.error == "x509: unknown authority"


async def test_tls_insecure_skip_verify(kind: str, tls_port: int) -> None:
    t = make_transport(kind, insecure_skip_tls_verify=True)
    try:
        r = await get(t, f"https://localhost:{tls_port}/text")
        r2 = await get(t, f"https://localhost:{tls_port}/text")
    finally:
        await t.close()
    assert (r.status, r.body, r.error_code) == (200, TEXT, 0)
    assert r.timings.connecting > 0
    assert r.tls_version in ("tls1.2", "tls1.3")
    if kind == "fast":
        assert r.timings.tls_handshaking > 0
    else:
        # A known difference of the aiohttp transport: its trace hooks cannot separate the
        # handshake (it is inside `connecting`).
        assert r.timings.tls_handshaking == 0
    assert (r2.status, r2.timings.connecting, r2.timings.tls_handshaking) == (200, 0, 0)


# -- network trouble ------------------------------------------------------------------------
async def test_request_timeout(transport: Transport, base: str) -> None:
    t0 = time.monotonic()
    r = await get(transport, f"{base}/slow/3000", timeout=0.3)
    assert (r.status, r.error_code, r.error) == (0, neterr.REQUEST_TIMEOUT, "request timeout")
    assert 0.25 < time.monotonic() - t0 < 2.0
    r2 = await get(transport, f"{base}/text")  # the timed-out connection is not reused
    assert r2.status == 200


async def test_connection_refused(transport: Transport) -> None:
    server = RawServer(lambda r, w, n: asyncio.sleep(0))
    async with server:
        port = server.port
    r = await get(transport, f"http://127.0.0.1:{port}/")
    assert (r.status, r.error_code, r.error) == (0, neterr.TCP_DIAL_REFUSED,
                                                 "dial: connection refused")
    assert r.proto == "" and r.timings.duration == 0


async def test_timeout_while_connecting(transport: Transport) -> None:
    hole = BlackHole()
    try:
        if not hole.hangs():
            pytest.skip("this kernel accepts connects beyond the backlog")
        r = await get(transport, f"http://127.0.0.1:{hole.port}/", timeout=0.3)
    finally:
        hole.close()
    # k6 1.1.0 says "request timeout" (1050) when the request's timeout expires in the dial
    assert (r.status, r.error_code) == (0, neterr.REQUEST_TIMEOUT)


async def test_reset_mid_body(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(0.05)
        reset(writer)

    async with RawServer(handler) as server:
        r = await get(transport, server.url)
    assert (r.status, r.error_code) == (0, neterr.TCP_RESET)
    assert r.error == "read: connection reset by peer"


async def test_server_closes_mid_body(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        await writer.drain()

    async with RawServer(handler) as server:
        r = await get(transport, server.url)
    assert (r.status, r.error_code, r.error) == (0, 1000, "unexpected EOF")  # as k6


async def test_server_closes_before_responding(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)

    async with RawServer(handler) as server:
        r = await get(transport, server.url)
    assert (r.status, r.error_code, r.error) == (0, 1000, "EOF")  # as k6


@pytest.mark.parametrize("garbage", [
    b"HELLO WORLD\r\n\r\n",
    b"HTTP/1.1 abc OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nhello",
    b"\x00\x01\x02\x03" * 64,
])
async def test_garbage_response(transport: Transport, base: str, garbage: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(garbage)
        await writer.drain()
        await asyncio.sleep(0.1)

    async with RawServer(handler) as server:
        r = await get(transport, server.url, timeout=5.0)
    assert (r.status, r.error_code) == (0, neterr.MALFORMED_RESPONSE)
    assert "malformed" in r.error
    assert (await get(transport, f"{base}/text")).status == 200  # still usable


async def test_broken_gzip(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Encoding: gzip\r\n\r\n"
                     b"hello")
        await writer.drain()

    async with RawServer(handler) as server:
        r = await get(transport, server.url)
    assert (r.status, r.error_code) == (0, neterr.DECOMPRESSION)  # as k6: status 0, 1701
    assert r.error.startswith("error decompressing response body")


async def test_body_until_close(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        await writer.drain()

    async with RawServer(handler) as server:
        r = await get(transport, server.url)
    assert (r.status, r.body, r.proto) == (200, b"until the end", "HTTP/1.0")


async def test_informational_response_is_skipped(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: yes\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)

    async with RawServer(handler) as server:
        r = await get(transport, server.url)
    assert (r.status, r.body, r.headers.get("x-final")) == (200, b"ok", "yes")


# -- keep-alive closes by the server ----------------------------------------------------------
def keep_alive_response(body: bytes = b"ok") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def test_server_closes_idle_pooled_connection(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(keep_alive_response())
        await writer.drain()
        await asyncio.sleep(0.05)  # then close the idle keep-alive connection

    async with RawServer(handler) as server:
        r1 = await get(transport, server.url)
        await asyncio.sleep(0.3)
        r2 = await get(transport, server.url)
        assert server.connections == 2
    assert (r1.status, r2.status) == (200, 200)
    assert r2.timings.connecting > 0


async def test_stale_pooled_connection_is_retried_once(kind: str) -> None:
    """The keep-alive race: the server drops a pooled connection just as the next request
    arrives on it (no response byte). An idempotent request is re-sent once, on a new
    connection."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(keep_alive_response(b"%d" % n))
        await writer.drain()
        await read_request(reader)  # the second request on this connection: drop it

    t = make_transport(kind)
    try:
        async with RawServer(handler) as server:
            r1 = await get(t, server.url)
            r2 = await get(t, server.url)
            connections = server.connections
    finally:
        await t.close()
    assert (r1.status, r1.body) == (200, b"0")
    assert (r2.status, r2.body, r2.error) == (200, b"1", "")
    assert connections == 2
    if isinstance(t, FastTransport):
        assert t.retries == 1


async def test_stale_connection_not_retried_for_post(transport: Transport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(keep_alive_response())
        await writer.drain()
        await read_request(reader)

    async with RawServer(handler) as server:
        r1 = await transport.send(Request("POST", server.url, body=b"a"))
        r2 = await transport.send(Request("POST", server.url, body=b"b"))
        assert server.connections == 1
    assert r1.status == 200
    assert (r2.status, r2.error_code, r2.error) == (0, 1000, "EOF")
