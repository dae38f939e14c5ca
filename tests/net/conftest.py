"""Fixtures for the transport suite: both transports, an app server, a TLS app server."""

from __future__ import annotations

import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from net_helpers import make_cert, make_transport, start_app  # noqa: E402

from loadgen.net.types import Transport  # noqa: E402

KINDS = ["aiohttp", "fast"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def transport(kind: str) -> AsyncIterator[Transport]:
    t = make_transport(kind)
    yield t
    await t.close()


@pytest.fixture
async def base() -> AsyncIterator[str]:
    """Base URL of the aiohttp test app (http://127.0.0.1:<port>)."""
    runner, port = await start_app()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    try:
        return make_cert(tmp_path_factory.mktemp("tls"))
    except (RuntimeError, OSError) as e:
        pytest.skip(f"cannot make a test certificate: {e}")


@pytest.fixture
async def tls_port(cert_files: tuple[Path, Path]) -> AsyncIterator[int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert_files)
    runner, port = await start_app(ctx)
    yield port
    await runner.cleanup()
