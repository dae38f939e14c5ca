"""Client helpers for the demo-server tests (imported by conftest and test modules)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


class DemoClient:
    """HTTP/WS helpers bound to one running demo server."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session
        self._tokens: dict[str, str] = {}

    async def token(self, user: str) -> str:
        if user not in self._tokens:
            resp = await self.session.post(
                self.base + "/auth/login", json={"username": user, "password": "pw"}
            )
            assert resp.status == 200, await resp.text()
            self._tokens[user] = (await resp.json())["token"]
        return self._tokens[user]

    async def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(user)}"}

    async def call(
        self,
        method: str,
        path: str,
        user: str | None = None,
        json: Any = None,
        data: Any = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or None)."""
        headers = await self.auth(user) if user else {}
        async with self.session.request(
            method, self.base + path, json=json, data=data, headers=headers
        ) as resp:
            raw = await resp.read()
            body = None
            if raw and resp.content_type == "application/json":
                body = await resp.json()
            return resp.status, body

    async def conversation(self, creator: str, *others: str) -> dict[str, Any]:
        status, conv = await self.call(
            "POST", "/v1/conversations", creator, json={"participants": list(others)}
        )
        assert status == 201, conv
        return conv  # type: ignore[no-any-return]

    async def ws(self, user: str) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(
            self.base + "/v1/ws", params={"token": await self.token(user)}
        )

    async def echo(self) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(self.base + "/v1/ws/echo")

    async def drain(self) -> None:
        status, _ = await self.call("POST", "/admin/drain")
        assert status == 200

    async def metrics(self) -> str:
        async with self.session.get(self.base + "/metrics") as resp:
            assert resp.status == 200
            return await resp.text()


StartDemo = Callable[..., Awaitable[DemoClient]]


async def recv_json(ws: aiohttp.ClientWebSocketResponse, within: float = 2.0) -> Any:
    msg = await asyncio.wait_for(ws.receive(), within)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return msg.json()


async def recv_nothing(ws: aiohttp.ClientWebSocketResponse, within: float = 0.2) -> None:
    try:
        msg = await asyncio.wait_for(ws.receive(), within)
    except TimeoutError:
        return
    raise AssertionError(f"expected no frame, got {msg!r}")
