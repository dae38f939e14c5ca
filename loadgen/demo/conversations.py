"""HTTP handlers for conversations, their participants and their message history.

Thin on purpose: parse and validate the request, call the store, shape the JSON. All
membership checks go through the store's participant cache; the `participants` GET
shows the cache's view (and whether it was a hit) so tests can prove invalidation.
"""

from __future__ import annotations

from aiohttp import web

from loadgen.demo.auth import require_user
from loadgen.demo.jsonio import (
    ApiError,
    get_int,
    get_optional_str,
    get_str_list,
    json_response,
    query_int,
    read_object,
    read_optional_object,
)
from loadgen.demo.state import state


async def create(request: web.Request) -> web.Response:
    """POST /v1/conversations {"title"?: str, "participants": [str]} → 201 conversation."""
    st = state(request)
    user = require_user(request, st.tokens)
    data = await read_object(request)
    participants = get_str_list(data, "participants")
    title = get_optional_str(data, "title", max_len=200) or ""
    conv = st.store.create(user, title, participants)
    return json_response(conv.to_json(), status=201)


async def list_mine(request: web.Request) -> web.Response:
    """GET /v1/conversations → {"conversations": [...]} (the caller's)."""
    st = state(request)
    user = require_user(request, st.tokens)
    convs = st.store.list_for(user)
    return json_response({"conversations": [c.to_json() for c in convs]})


async def get_one(request: web.Request) -> web.Response:
    st = state(request)
    user = require_user(request, st.tokens)
    conv = st.store.get(request.match_info["id"], user)
    return json_response(conv.to_json())


async def patch(request: web.Request) -> web.Response:
    """PATCH {"version": int, "title"?: str}; a stale version is 409."""
    st = state(request)
    user = require_user(request, st.tokens)
    data = await read_object(request)
    if "version" not in data:
        raise ApiError(400, "'version' is required")
    version = get_int(data, "version")
    title = get_optional_str(data, "title", max_len=200)
    conv = st.store.update(request.match_info["id"], user, version, title)
    return json_response(conv.to_json())


async def delete(request: web.Request) -> web.Response:
    """DELETE: creator only; 204."""
    st = state(request)
    user = require_user(request, st.tokens)
    st.store.delete(request.match_info["id"], user)
    return web.Response(status=204)


async def get_participants(request: web.Request) -> web.Response:
    """The participant cache's view: {"conversation_id", "participants", "cache": hit|miss}."""
    st = state(request)
    user = require_user(request, st.tokens)
    conv_id = request.match_info["id"]
    members, hit = st.store.participants(conv_id, user)
    return json_response(
        {
            "conversation_id": conv_id,
            "participants": sorted(members),
            "cache": "hit" if hit else "miss",
        },
        headers={"X-Cache": "HIT" if hit else "MISS"},
    )


async def _change_members(request: web.Request, users: list[str], add: bool) -> web.Response:
    st = state(request)
    user = require_user(request, st.tokens)
    conv_id = request.match_info["id"]
    if add:
        conv = st.store.add_participants(conv_id, user, users)
    else:
        conv = st.store.remove_participants(conv_id, user, users)
    return json_response(
        {
            "conversation_id": conv.id,
            "participants": sorted(conv.participants),
            "version": conv.version,
        }
    )


async def add_participants(request: web.Request) -> web.Response:
    """POST .../participants {"participants": [str]}."""
    require_user(request, state(request).tokens)
    data = await read_object(request)
    return await _change_members(request, get_str_list(data, "participants"), add=True)


async def remove_participants(request: web.Request) -> web.Response:
    """DELETE .../participants {"participants": [str]} (body), or .../participants/{user}."""
    require_user(request, state(request).tokens)
    if "user" in request.match_info:
        users = [request.match_info["user"]]
    else:
        users = get_str_list(await read_optional_object(request), "participants")
    return await _change_members(request, users, add=False)


async def history(request: web.Request) -> web.Response:
    """GET .../messages?limit=N → the last N (≤ history_limit) messages, oldest first."""
    st = state(request)
    user = require_user(request, st.tokens)
    limit = query_int(request, "limit", default=50, lo=0, hi=10_000)
    msgs = st.store.history(request.match_info["id"], user, limit)
    return json_response({"messages": [m.to_frame() for m in msgs]})


def routes() -> list[web.RouteDef]:
    base = "/v1/conversations"
    return [
        web.post(base, create),
        web.get(base, list_mine, allow_head=False),
        web.get(base + "/{id}", get_one, allow_head=False),
        web.patch(base + "/{id}", patch),
        web.delete(base + "/{id}", delete),
        web.get(base + "/{id}/participants", get_participants, allow_head=False),
        web.post(base + "/{id}/participants", add_participants),
        web.delete(base + "/{id}/participants", remove_participants),
        web.delete(base + "/{id}/participants/{user}", remove_participants),
        web.get(base + "/{id}/messages", history, allow_head=False),
    ]
