"""A loopback service whose behaviour a test's events switch at run time: `POST
/admin/faults {"mode": "ok" | "error" | "drop"}` (`GET /admin/count`: how many such
posts arrived); `GET /` answers 200, or 503 ("error"),
or closes the connection without an answer ("drop": what a crashed backend looks like to
the client). Runs in its own thread and loop (tests/servers.py's `serve`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from servers import serve

#: a healthy answer's time: well above the scheduling noise of a busy machine, so that
#: "back to the baseline's p95" is decided by the fault, not by that noise
OK_DELAY_S = 0.02


def fault_app() -> web.Application:
    state: dict[str, object] = {"mode": "ok", "posts": 0}

    async def root(request: web.Request) -> web.StreamResponse:
        if state["mode"] == "error":
            return web.Response(status=503, text="unavailable")
        if state["mode"] == "drop":
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPServiceUnavailable
        await asyncio.sleep(OK_DELAY_S)
        return web.Response(text="ok")

    async def faults(request: web.Request) -> web.Response:
        body = await request.json()
        state["mode"] = str(body.get("mode", "ok"))
        state["posts"] = int(state["posts"]) + 1
        return web.json_response({"mode": state["mode"]})

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"posts": state["posts"]})

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_post("/admin/faults", faults)
    app.router.add_get("/admin/count", count)
    return app


@contextmanager
def fault_server() -> Iterator[str]:
    with serve(fault_app) as base:
        yield base
