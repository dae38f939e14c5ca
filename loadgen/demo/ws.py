"""Posting messages and the two WebSocket endpoints (delivery and echo).

A message can be sent by HTTP (POST /v1/messages) or over the delivery socket itself
({"type": "send", ...}); both share `accept_message`, so size limits, membership checks
and the outbox behave identically. The echo socket exists for payload-integrity tests:
it returns every text and binary frame unchanged unless a corruption fault says otherwise.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import WSMessage, WSMsgType, web

from loadgen.demo.auth import require_user
from loadgen.demo.jsonio import (
    ApiError,
    dumps,
    get_optional_str,
    get_str,
    json_response,
    read_object,
)
from loadgen.demo.sockets import run_socket
from loadgen.demo.state import DemoState, state

_WS_MAX_MSG = 1024 * 1024
_CLOSE_HANDSHAKE_S = 2.0  # how long a closing socket waits for the peer's close frame


def accept_message(st: DemoState, user: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate, record and enqueue one message; returns the acknowledgement JSON."""
    conv_id = get_str(data, "conversation_id", max_len=64)
    body = data.get("body")
    if not isinstance(body, str):
        raise ApiError(400, "'body' must be a string")
    if len(body) > st.config.max_body_bytes or len(body.encode()) > st.config.max_body_bytes:
        raise ApiError(413, f"message body larger than {st.config.max_body_bytes} bytes")
    client_msg_id = get_optional_str(data, "client_msg_id", max_len=128)
    msg, recipients = st.store.new_message(conv_id, user, body, client_msg_id)
    refused = st.hub.enqueue(msg, recipients)
    if refused is not None:
        raise ApiError(503, refused, {"Retry-After": "1"})
    st.store.record(msg)
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "client_msg_id": msg.client_msg_id,
        "sent_at": msg.sent_at,
        "recipients": len(recipients),
    }


async def post_message(request: web.Request) -> web.Response:
    """POST /v1/messages → 202 (accepted for asynchronous delivery)."""
    st = state(request)
    user = require_user(request, st.tokens)
    ack = accept_message(st, user, await read_object(request))
    return json_response(ack, status=202)


def _new_socket() -> web.WebSocketResponse:
    # compress=False: payload bytes on the wire are what the corruption fault flips
    return web.WebSocketResponse(
        max_msg_size=_WS_MAX_MSG, compress=False, timeout=_CLOSE_HANDSHAKE_S
    )


def _fault_close_code(st: DemoState) -> int | None:
    code = st.faults.close_code
    if code is not None:
        st.metrics.faults_injected.labels("close").inc()
    return code


def _handle_client_frame(st: DemoState, user: str, text: str) -> dict[str, Any]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"type": "error", "error": "malformed JSON"}
    if not isinstance(data, dict):
        return {"type": "error", "error": "frame must be a JSON object"}
    kind = data.get("type")
    if kind == "ping":
        return {"type": "pong", "id": data.get("id")}
    if kind == "send":
        try:
            return {"type": "ack", **accept_message(st, user, data)}
        except ApiError as exc:
            return {"type": "error", "status": exc.status, "error": exc.message,
                    "client_msg_id": data.get("client_msg_id")}  # fmt: skip
    return {"type": "error", "error": "unknown frame type (expected 'ping' or 'send')"}


async def messaging_socket(request: web.Request) -> web.StreamResponse:
    """GET /v1/ws (token via Authorization header or ?token=): receives deliveries."""
    st = state(request)
    user = require_user(request, st.tokens, allow_query=True)
    ws = _new_socket()
    await ws.prepare(request)

    async def on_message(msg: WSMessage) -> None:
        if msg.type == WSMsgType.TEXT:
            reply = _handle_client_frame(st, user, msg.data)
        else:
            reply = {"type": "error", "error": "binary frames unsupported"}
        await ws.send_str(dumps(reply))

    st.hub.sockets.add(ws, "messaging", user)
    try:
        await run_socket(st.hub.sockets, ws, on_message, _fault_close_code(st))
    finally:
        st.hub.sockets.remove(ws)
    return ws


async def echo_socket(request: web.Request) -> web.StreamResponse:
    """GET /v1/ws/echo (no auth): every text/binary frame comes back, maybe corrupted."""
    st = state(request)
    ws = _new_socket()
    await ws.prepare(request)

    async def on_message(msg: WSMessage) -> None:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(st.faults.corrupt_text(msg.data))
        else:
            await ws.send_bytes(st.faults.corrupt_bytes(msg.data))

    st.hub.sockets.add(ws, "echo")
    try:
        await run_socket(st.hub.sockets, ws, on_message, _fault_close_code(st))
    finally:
        st.hub.sockets.remove(ws)
    return ws


def routes() -> list[web.RouteDef]:
    return [
        web.post("/v1/messages", post_message),
        web.get("/v1/ws", messaging_socket, allow_head=False),
        web.get("/v1/ws/echo", echo_socket, allow_head=False),
    ]
