"""Bearer-token login, so scenarios exercise a realistic setup() → token → requests flow.

Tokens are opaque random strings held in memory. The table is bounded (oldest token
evicted first) because a load test logs in once per VU iteration and a soak must not
grow the server without limit.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from aiohttp import web

from loadgen.demo.jsonio import ApiError

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="loadgen-demo"'}


class TokenStore:
    """token → username, bounded at `max_tokens` (FIFO eviction)."""

    def __init__(self, max_tokens: int, password: str | None = None) -> None:
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._max = max(1, max_tokens)
        self._password = password

    def __len__(self) -> int:
        return len(self._tokens)

    def accepts(self, password: str) -> bool:
        """Any non-empty password unless the config pins one (compared in constant time)."""
        if not password:
            return False
        if self._password is None:
            return True
        return secrets.compare_digest(password.encode(), self._password.encode())

    def issue(self, username: str) -> str:
        token = secrets.token_urlsafe(24)
        self._tokens[token] = username
        while len(self._tokens) > self._max:
            self._tokens.popitem(last=False)
        return token

    def lookup(self, token: str | None) -> str | None:
        if not token:
            return None
        return self._tokens.get(token)

    def revoke(self, token: str) -> bool:
        return self._tokens.pop(token, None) is not None


def bearer_token(request: web.Request, *, allow_query: bool = False) -> str | None:
    """The token from `Authorization: Bearer …`, or from `?token=` where browsers need it."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query.get("token") or None
    return None


def require_user(request: web.Request, tokens: TokenStore, *, allow_query: bool = False) -> str:
    """The caller's username, or a 401 JSON error."""
    user = tokens.lookup(bearer_token(request, allow_query=allow_query))
    if user is None:
        raise ApiError(401, "missing or invalid bearer token", _UNAUTHORIZED_HEADERS)
    return user
