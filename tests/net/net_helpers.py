"""Servers for the transport conformance suite, all on 127.0.0.1 and in the test's own loop:
an aiohttp app for well-behaved HTTP, and raw asyncio socket servers for the nasty cases
(garbage, resets, truncation, idle closes) that a real framework would refuse to produce."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import shutil
import socket
import ssl
import struct
import subprocess
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from loadgen.net.aiohttp_transport import AiohttpTransport
from loadgen.net.fast import FastTransport
from loadgen.net.types import Transport

TEXT = b"hello world!"
BIG = bytes(range(256)) * 4096  # 1 MiB


def make_transport(kind: str, **kw: object) -> Transport:
    if kind == "fast":
        return FastTransport(**kw)  # type: ignore[arg-type]
    return AiohttpTransport(**kw)  # type: ignore[arg-type]


def make_app() -> web.Application:
    async def text(request: web.Request) -> web.Response:
        return web.Response(body=TEXT, content_type="text/plain")

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=body, headers={
            "X-Method": request.method,
            "X-Content-Length": request.headers.get("Content-Length", "-"),
            "X-Host": request.headers.get("Host", "-")})

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(5):
            await resp.write(b"chunk%d;" % i)
        await resp.write_eof()
        return resp

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(TEXT * 10), headers={"Content-Encoding": "gzip"})

    async def deflated(request: web.Request) -> web.Response:
        return web.Response(body=zlib.compress(TEXT * 10),
                            headers={"Content-Encoding": "deflate"})

    async def status(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n in (204, 304):
            return web.Response(status=n)
        return web.Response(status=n, body=b"status %d" % n)

    async def close(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT)
        resp.force_close()
        return resp

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(body=b"slow")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BIG)

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n <= 0:
            return web.Response(body=b"landed")
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def set_cookie(request: web.Request) -> web.Response:
        resp = web.Response(body=b"set")
        resp.set_cookie("session", "abc123", path="/")
        return resp

    async def cookies(request: web.Request) -> web.Response:
        return web.Response(body=request.headers.get("Cookie", "").encode())

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/text", text)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/deflate", deflated)
    app.router.add_route("*", "/status/{n}", status)
    app.router.add_get("/close", close)
    app.router.add_get("/slow/{ms}", slow)
    app.router.add_get("/big", big)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/set-cookie", set_cookie)
    app.router.add_get("/cookies", cookies)
    return app


async def start_app(ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    server = site._server
    assert server is not None
    return runner, int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawServer:
    """A socket server that runs `handler(reader, writer, n)` per connection (n counts the
    connections from 0); it closes the connection afterwards unless the handler did."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = self.connections
        self.connections += 1
        try:
            await self.handler(reader, writer, n)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request head (and its Content-Length body, if any)."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (openssl CLI)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl not found")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    return cert, key


class BlackHole:
    """A listening socket whose accept queue is full, so new connects hang (SYNs dropped):
    the loopback way to make a connect time out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = int(self.sock.getsockname()[1])
        self.fillers: list[socket.socket] = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", self.port))
            self.fillers.append(s)

    def hangs(self) -> bool:
        probe = socket.socket()
        probe.settimeout(0.2)
        try:
            probe.connect(("127.0.0.1", self.port))
        except OSError:
            return True
        finally:
            probe.close()
        return False

    def close(self) -> None:
        for s in self.fillers:
            s.close()
        self.sock.close()
