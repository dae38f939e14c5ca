"""A loopback service with named endpoints of known speed, for the per-endpoint features
(SLO budgets, the by-name table, the slowest requests): /dashboard answers at once,
/messages after `slow_ms`, /fail/<n> with status n; every request's headers are kept
(bounded) so a test can see the trace ids that reached the server."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from servers import serve


class Seen:
    """What the server received: (path, headers) of the last 10,000 requests."""

    def __init__(self) -> None:
        self.requests: deque[tuple[str, dict[str, str]]] = deque(maxlen=10_000)

    def header(self, name: str) -> list[str]:
        return [h[name.lower()] for _, h in self.requests if name.lower() in h]


def endpoint_app(seen: Seen, slow_ms: int = 60) -> web.Application:
    async def fast(request: web.Request) -> web.Response:
        seen.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        return web.Response(text="ok")

    async def slow(request: web.Request) -> web.Response:
        seen.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        await asyncio.sleep(slow_ms / 1000)
        return web.Response(text="slow")

    async def fail(request: web.Request) -> web.Response:
        seen.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        return web.Response(status=int(request.match_info["n"]), text="fail")

    app = web.Application()
    app.router.add_get("/dashboard", fast)
    app.router.add_get("/messages", slow)
    app.router.add_get("/fail/{n}", fail)
    return app


@contextmanager
def endpoint_server(slow_ms: int = 60) -> Iterator[tuple[str, Seen]]:
    """(base URL, what the server saw)."""
    seen = Seen()
    with serve(lambda: endpoint_app(seen, slow_ms)) as url:
        yield url, seen
