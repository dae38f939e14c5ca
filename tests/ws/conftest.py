"""Fixtures for the WebSocket tests: a loopback server (per test) and a real-socket harness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from wshelpers import RealHarness
from wsserver import Hub, start


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    h = Hub()
    runner = await start(h)
    yield h
    await runner.cleanup()


@pytest.fixture
def harness(hub: Hub) -> RealHarness:
    return RealHarness(hub.base_url)
