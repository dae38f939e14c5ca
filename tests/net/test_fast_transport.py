"""What only the fast transport has: its options, counters, exact byte counts, pool sharing,
and its behaviour on uvloop as well as on the default loop."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest
import uvloop
from net_helpers import BIG, TEXT, RawServer, read_request, start_app

from loadgen.net import errors as neterr
from loadgen.net.fast import ConnectionPool, FastTransport
from loadgen.net.types import Request


@pytest.fixture
async def fast() -> AsyncIterator[FastTransport]:
    t = FastTransport()
    yield t
    await t.close()


async def test_exact_wire_byte_counts(fast: FastTransport) -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: abc\r\n\r\nhello"
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            head = await read_request(reader)
            seen.append(head)
            writer.write(response)
            await writer.drain()

    async with RawServer(handler) as server:
        r = await fast.send(Request("GET", server.url, [("User-Agent", "t")]))
        r2 = await fast.send(Request("POST", server.url, [], b"12345"))
    assert (r.status, r.body) == (200, b"hello")
    assert r.bytes_received == len(response) == r2.bytes_received
    assert r.bytes_sent == len(seen[0])
    assert r2.bytes_sent == len(seen[1]) + 5
    assert seen[0].startswith(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nUser-Agent: t\r\n" in seen[0]
    assert b"\r\nContent-Length: 5\r\n" in seen[1]


async def test_head_split_over_reads(fast: FastTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        for piece in (b"HTTP/1.1 200 OK\r\nX-A: 1\r", b"\nContent-Length: 4\r\n", b"\r\nbo",
                      b"dy"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)

    async with RawServer(handler) as server:
        r = await fast.send(Request("GET", server.url))
    assert (r.status, r.body, r.headers.get("x-a")) == (200, b"body", "1")
    assert r.bytes_received == 50
    assert r.timings.receiving > 5  # first byte -> last byte spans the pauses


async def test_max_response_bytes() -> None:
    runner, port = await start_app()
    t = FastTransport(max_response_bytes=1000)
    try:
        r = await t.send(Request("GET", f"http://127.0.0.1:{port}/big"))
        r2 = await t.send(Request("GET", f"http://127.0.0.1:{port}/text"))
        r3 = await t.send(Request("GET", f"http://127.0.0.1:{port}/gzip"))  # 120 B unzipped
    finally:
        await t.close()
        await runner.cleanup()
    assert (r.status, r.error_code) == (0, neterr.RESPONSE_TOO_LARGE)
    assert "max_response_bytes" in r.error
    assert (r2.status, r2.body) == (200, TEXT)
    assert r2.timings.connecting > 0  # the capped response's connection was dropped
    assert r3.status == 200
    assert t.connects == 2


async def test_max_response_bytes_applies_to_decompressed_size() -> None:
    runner, port = await start_app()
    t = FastTransport(max_response_bytes=50)
    try:
        r = await t.send(Request("GET", f"http://127.0.0.1:{port}/gzip"))
    finally:
        await t.close()
        await runner.cleanup()
    assert (r.status, r.error_code) == (0, neterr.RESPONSE_TOO_LARGE)


async def test_discard_response_bodies() -> None:
    runner, port = await start_app()
    t = FastTransport(discard_response_bodies=True)
    try:
        r = await t.send(Request("GET", f"http://127.0.0.1:{port}/big"))
        r2 = await t.send(Request("GET", f"http://127.0.0.1:{port}/big"))
    finally:
        await t.close()
        await runner.cleanup()
    assert (r.status, r.body) == (200, b"")
    assert r.bytes_received > len(BIG)
    assert r2.timings.connecting == 0


async def test_shared_pool_limit_measures_blocked() -> None:
    runner, port = await start_app()
    pool = ConnectionPool(max_per_host=1)
    a, b = FastTransport(pool=pool), FastTransport(pool=pool)
    url = f"http://127.0.0.1:{port}/slow/150"
    try:
        ra, rb = await asyncio.gather(a.send(Request("GET", url)), b.send(Request("GET", url)))
        await a.close()  # a shared pool outlives its transports
        rc = await b.send(Request("GET", f"http://127.0.0.1:{port}/text"))
    finally:
        pool.close()
        await runner.cleanup()
    assert (ra.status, rb.status, rc.status) == (200, 200, 200)
    assert a.connects + b.connects == 1
    blocked = sorted([ra.timings.blocked, rb.timings.blocked])
    assert blocked[0] < 50 and blocked[1] >= 100  # the second waited for the first's connection
    assert rc.timings.connecting == 0


async def test_cancelled_send_drops_connection(fast: FastTransport) -> None:
    runner, port = await start_app()
    try:
        task = asyncio.create_task(fast.send(Request("GET", f"http://127.0.0.1:{port}/slow/2000")))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        r = await fast.send(Request("GET", f"http://127.0.0.1:{port}/text"))
    finally:
        await runner.cleanup()
    assert r.status == 200 and r.timings.connecting > 0
    assert fast.connects == 2


async def test_connect_timeout_is_1211(fast: FastTransport) -> None:
    from net_helpers import BlackHole

    hole = BlackHole()
    t = FastTransport(connect_timeout=0.2)
    try:
        if not hole.hangs():
            pytest.skip("this kernel accepts connects beyond the backlog")
        r = await t.send(Request("GET", f"http://127.0.0.1:{hole.port}/", timeout=5.0))
    finally:
        hole.close()
        await t.close()
    assert (r.status, r.error_code, r.error) == (0, neterr.TCP_DIAL_TIMEOUT, "dial: i/o timeout")


async def test_tls_with_trusted_ca(cert_files: tuple[object, object], tls_port: int) -> None:
    import ssl

    ctx = ssl.create_default_context(cafile=str(cert_files[0]))
    t = FastTransport(ssl_context=ctx)
    try:
        r = await t.send(Request("GET", f"https://localhost:{tls_port}/text"))
        r2 = await t.send(Request("GET", f"https://127.0.0.1:{tls_port}/text"))
    finally:
        await t.close()
    assert (r.status, r.body, r.tls_version) == (200, TEXT, "tls1.3")
    assert r2.status == 200  # the certificate names 127.0.0.1 too (an IP SAN)


async def test_basic_auth_from_url(fast: FastTransport) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        heads.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with RawServer(handler) as server:
        creds = "us%40er:p%3Ass@"  # user "us@er", password "p:ss", on loopback
        r = await fast.send(Request("GET", f"http://{creds}127.0.0.1:{server.port}/x"))
    assert r.status == 200
    token = base64.b64encode(b"us@er:p:ss").decode()
    assert f"\r\nAuthorization: Basic {token}\r\n".encode() in heads[0]


@pytest.mark.parametrize(("url", "code", "needle"), [
    ("ftp://127.0.0.1/file", neterr.UNSUPPORTED, "--http-client aiohttp"),
    ("http:///nohost", neterr.INVALID_URL, "no host"),
    ("http://127.0.0.1:99999/", neterr.INVALID_URL, "invalid URL"),
])
async def test_requests_it_cannot_send(fast: FastTransport, url: str, code: int,
                                       needle: str) -> None:
    r = await fast.send(Request("GET", url))
    assert (r.status, r.error_code) == (0, code)
    assert needle in r.error
    assert fast.connects == 0


async def test_header_injection_is_refused(fast: FastTransport) -> None:
    r = await fast.send(Request("GET", "http://127.0.0.1:1/", [("X-A", "1\r\nX-B: 2")]))
    assert (r.status, r.error_code) == (0, neterr.DEFAULT)
    assert "invalid header" in r.error


async def test_unsolicited_bytes_drop_the_idle_connection(fast: FastTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")  # nobody asked
            await writer.drain()

    async with RawServer(handler) as server:
        r1 = await fast.send(Request("GET", server.url))
        await asyncio.sleep(0.2)
        r2 = await fast.send(Request("GET", server.url))
    assert (r1.body, r2.body) == (b"ok", b"ok")
    assert r2.timings.connecting > 0 and fast.retries == 0


def test_works_on_uvloop() -> None:
    async def main() -> tuple[int, bytes, float, int]:
        runner, port = await start_app()
        t = FastTransport()
        try:
            rs = [await t.send(Request("GET", f"http://127.0.0.1:{port}/text")) for _ in range(3)]
            slow = await t.send(Request("GET", f"http://127.0.0.1:{port}/slow/2000",
                                        timeout=0.2))
        finally:
            await t.close()
            await runner.cleanup()
        assert all(r.timings.connecting == 0 for r in rs[1:])
        return rs[0].status, rs[0].body, rs[0].timings.waiting, slow.error_code

    status, body, waiting, timeout_code = uvloop.run(main())
    assert (status, body, timeout_code) == (200, TEXT, neterr.REQUEST_TIMEOUT)
    assert waiting > 0
