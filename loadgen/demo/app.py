"""Assembles the demo service: state, middlewares, routes, lifecycle.

Middleware order matters: metrics is outermost so it counts every answer (including
injected faults and 4xx), the error middleware below it guarantees JSON error bodies and
that no request error escapes as aiohttp's text 500, and faults run closest to the
handlers so they also delay/fail unknown routes the way a sick server would. The backend
middleware (breaker, pool, migration lock, outages) is innermost: it guards storage itself.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from loadgen.demo import admin, conversations, work, ws
from loadgen.demo.backend import backend_middleware, health_handler
from loadgen.demo.config import DemoConfig
from loadgen.demo.faults import fault_middleware
from loadgen.demo.jsonio import ApiError, error_response, get_str, json_response, read_object
from loadgen.demo.metrics import metrics_middleware
from loadgen.demo.state import STATE, DemoState, state

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes `{"error": ...}` with the right status; bugs become a JSON 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:  # router 404/405, aiohttp's own 413, ...
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(exc.status, exc.reason, headers)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal server error")


async def login(request: web.Request) -> web.Response:
    """POST /auth/login {"username", "password"} → {"token", "token_type", "username"}."""
    st = state(request)
    data = await read_object(request)
    username = get_str(data, "username", max_len=64)
    password = data.get("password")
    if not isinstance(password, str):
        raise ApiError(400, "'password' must be a string")
    if not st.tokens.accepts(password):
        raise ApiError(401, "invalid credentials")
    token = st.tokens.issue(username)
    return json_response({"token": token, "token_type": "Bearer", "username": username})


async def _close_sockets(app: web.Application) -> None:
    """on_shutdown: close WebSockets (1001) so runner cleanup does not wait on them."""
    await app[STATE].hub.sockets.close_all(1001, b"server shutdown")


def create_app(config: DemoConfig | None = None) -> web.Application:
    """A fresh, independent demo app (own registry, store, faults); not yet started."""
    config = config or DemoConfig()
    st = DemoState.build(config)
    app = web.Application(
        client_max_size=config.client_max_size,
        middlewares=[
            metrics_middleware(lambda r: r.app[STATE].metrics),
            error_middleware,
            fault_middleware(lambda r: r.app[STATE].faults),
            backend_middleware(lambda r: r.app[STATE].backend),
        ],
    )
    app[STATE] = st
    app.router.add_post("/auth/login", login)
    app.router.add_get("/metrics", st.metrics.handle, allow_head=False)
    app.router.add_get("/health", health_handler(lambda r: r.app[STATE].backend))
    for module_routes in (conversations.routes(), ws.routes(), work.routes(), admin.routes()):
        app.router.add_routes(module_routes)
    app.cleanup_ctx.append(st.hub.lifecycle)
    app.cleanup_ctx.append(lambda a: st.backend.lifecycle(a, config.faults))
    app.on_shutdown.append(_close_sockets)
    return app
