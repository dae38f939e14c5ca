"""JSON in and out: one error shape and strict request-body parsing.

Every 4xx the service sends is `{"error": "..."}` so load scenarios can check failures
the same way everywhere, and a malformed body can only ever produce a 4xx: the helpers
raise `ApiError`, which the error middleware turns into the JSON response.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class ApiError(Exception):
    """A deliberate non-2xx answer; the error middleware renders it as JSON."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers
    )


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"error": message}, status=status, headers=headers)


async def read_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; oversize is 413 (aiohttp enforces client_max_size)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "request body too large") from exc
    if not raw:
        raise ApiError(400, "request body must be a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


async def read_optional_object(request: web.Request) -> dict[str, Any]:
    """Like read_object, but an empty body means `{}` (for endpoints whose body is optional)."""
    if not request.can_read_body:
        return {}
    return await read_object(request)


def get_str(data: dict[str, Any], key: str, *, max_len: int = 256, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{key!r} must be a string")
    if required and not value:
        raise ApiError(400, f"{key!r} must not be empty")
    if len(value) > max_len:
        raise ApiError(400, f"{key!r} is longer than {max_len} characters")
    return value


def get_optional_str(data: dict[str, Any], key: str, *, max_len: int = 256) -> str | None:
    if data.get(key) is None:
        return None
    return get_str(data, key, max_len=max_len)


def get_int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{key!r} must be an integer")
    return value


def get_str_list(data: dict[str, Any], key: str, *, max_items: int = 1000) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ApiError(400, f"{key!r} must be a list of non-empty strings")
    if len(value) > max_items:
        raise ApiError(400, f"{key!r} has more than {max_items} items")
    if any(len(v) > 64 for v in value):
        raise ApiError(400, f"{key!r} items must be at most 64 characters")
    return value


def query_int(request: web.Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"query parameter {key!r} must be an integer") from exc
    if not lo <= value <= hi:
        raise ApiError(400, f"query parameter {key!r} must be in [{lo}, {hi}]")
    return value
