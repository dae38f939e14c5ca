"""Operator endpoints: switch faults at run time, read internal counters, health.

No auth here on purpose: the demo binds to 127.0.0.1 and tests flip faults mid-run.
These paths are exempt from HTTP faults, so a stalled or erroring server can always be
healed with DELETE /admin/faults.
"""

from __future__ import annotations

from aiohttp import web

from loadgen.demo.config import Faults
from loadgen.demo.jsonio import ApiError, json_response, read_object
from loadgen.demo.state import state


async def get_faults(request: web.Request) -> web.Response:
    """GET /admin/faults → the active fault set plus `stall_remaining_s`."""
    return json_response(state(request).faults.snapshot())


async def set_faults(request: web.Request) -> web.Response:
    """POST /admin/faults {Faults fields}: replaces the whole set (omitted = off).

    The backend faults (`consumer`, `partition`, `pool`, `outage`, `migration`; their JSON
    in backend_faults.py) take effect here too: omitting one ends it (restart, heal, ...).

    With `close_code` set, every open WebSocket gets a close frame with it before the
    answer is sent, and new ones are closed right after the handshake until cleared.
    """
    st = state(request)
    data = await read_object(request)
    try:
        faults = Faults.from_dict(data)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    st.faults.replace(faults)
    st.backend.apply(faults)
    if faults.close_code is not None:
        closed = await st.hub.sockets.close_all(faults.close_code, b"injected fault", wait=False)
        if closed:
            st.metrics.faults_injected.labels("close").inc(closed)
    return json_response(st.faults.snapshot())


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /admin/faults: everything off (releases stalled requests at once)."""
    st = state(request)
    st.faults.replace(Faults())
    st.backend.apply(Faults())
    return json_response(st.faults.snapshot())


async def stats(request: web.Request) -> web.Response:
    """GET /admin/stats: the service's own counters as JSON (handy in tests and teardown)."""
    st = state(request)
    cache = st.store.cache
    return json_response(
        {
            "conversations": len(st.store),
            "tokens": len(st.tokens),
            "ws_connections": len(st.hub.sockets),
            "queue_depth": st.hub.queue_depth,
            "delivered": st.hub.delivered,
            "dead": st.hub.dead,
            "cache": {
                "hits": cache.hits,
                "misses": cache.misses,
                "invalidations": cache.invalidations,
                "entries": len(cache),
            },
        }
    )


async def drain(request: web.Request) -> web.Response:
    """POST /admin/drain: wait (≤ 5 s) until the outbox is empty; 200 drained / 504 not."""
    done = await state(request).hub.drain(5.0)
    if not done:
        raise ApiError(504, "outbox not drained within 5 s")
    return json_response({"drained": True})


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/faults", get_faults, allow_head=False),
        web.post("/admin/faults", set_faults),
        web.delete("/admin/faults", clear_faults),
        web.get("/admin/stats", stats, allow_head=False),
        web.post("/admin/drain", drain),
        web.get("/healthz", health),
    ]
