"""Loopback HTTP servers for tests, each in its own thread and event loop (127.0.0.1 only),
so the generator under test and the server never share a loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aiohttp import web


def free_port() -> int:
    """A port nobody listens on right now (for servers started as subprocesses)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, within_s: float = 15.0) -> None:
    """Poll until a server started as a subprocess accepts on 127.0.0.1:`port`: a fixed sleep
    is either too short on a loaded machine or wasted time on a quiet one."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"nothing listens on 127.0.0.1:{port} after {within_s} s") from None
            time.sleep(0.02)


class Stall:
    """Freeze the server for `length` s starting `after` s past its first request."""

    def __init__(self, after: float, length: float) -> None:
        self.after = after
        self.length = length
        self.first: float | None = None

    async def wait(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        start = self.first + self.after
        end = start + self.length
        if start <= now < end:
            await asyncio.sleep(end - now)


def make_app(stall: Stall | None = None) -> web.Application:
    async def root(request: web.Request) -> web.Response:
        if stall is not None:
            await stall.wait()
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["n"]), text="status")

    async def delay(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="delayed")

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n <= 0:
            return web.Response(text="landed")
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"method": request.method, "len": len(body),
                                  "ctype": request.headers.get("Content-Type", ""),
                                  "query": dict(request.query),
                                  "cookie": request.headers.get("Cookie", "")})

    async def set_cookie(request: web.Request) -> web.Response:
        resp = web.Response(text="set")
        resp.set_cookie("session", "abc123", path="/")
        return resp

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_route("*", "/status/{n}", status)
    app.router.add_get("/delay/{ms}", delay)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/cookie/set", set_cookie)
    return app


@contextmanager
def serve(app_factory: Callable[[], web.Application] = make_app) -> Iterator[str]:
    """Run an aiohttp app on 127.0.0.1 (free port) in a thread; yields its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(app_factory(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())  # type: ignore[attr-defined]
        loop.close()

    th = threading.Thread(target=main, daemon=True)
    th.start()
    if not ready.wait(10):
        raise RuntimeError("test server did not start")
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        th.join(10)
