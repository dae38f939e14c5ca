"""Fixtures: a real demo server on 127.0.0.1:<free port> and a small client around it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from demo_helpers import DemoClient, StartDemo

from loadgen.demo import DemoConfig, start_server


@pytest.fixture
async def start_demo() -> AsyncIterator[StartDemo]:
    """Factory: `client = await start_demo(DemoConfig(...))`; everything torn down after."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(config: DemoConfig | None = None) -> DemoClient:
        runner, port = await start_server("127.0.0.1", 0, config or DemoConfig(seed=1))
        runners.append(runner)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        sessions.append(session)
        return DemoClient(f"http://127.0.0.1:{port}", session)

    yield start
    for s in sessions:
        await s.close()
    for r in runners:
        await r.cleanup()


@pytest.fixture
async def demo(start_demo: StartDemo) -> DemoClient:
    return await start_demo()
