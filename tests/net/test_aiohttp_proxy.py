"""The aiohttp transport reads the proxy environment once, not per request.

aiohttp's `trust_env=True` sends every request through two thread hops (a ~/.netrc read and
a proxy look-up): the transport fell from 2,631 to ~950 req/s. HTTP(S)_PROXY / NO_PROXY must
still be honoured, with Go's rule that loopback is never proxied (as the fast transport)."""

from __future__ import annotations

import asyncio

import aiohttp.client
import aiohttp.connector
import pytest
from net_helpers import RawServer, read_request
from urls import with_user
from yarl import URL

from loadgen.net import aiohttp_guards
from loadgen.net.aiohttp_transport import AiohttpTransport
from loadgen.net.types import Request

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


#: stand-ins for hosts off this machine: the tests only ever address loopback, so these two
#: are told apart from it (as the project's "second host") where the proxy rule asks
REMOTE = ("127.0.0.2", "127.0.0.3")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def remote_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Go's rule never proxies loopback; REMOTE plays the part of a remote host for it."""
    real = aiohttp_guards._is_loopback
    monkeypatch.setattr(aiohttp_guards, "_is_loopback", lambda host: host not in REMOTE
                        and real(host))


async def test_no_per_request_environment_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"netrc": 0, "proxy": 0}

    def netrc() -> None:
        calls["netrc"] += 1

    def proxy(url: URL) -> None:
        calls["proxy"] += 1
        raise LookupError

    monkeypatch.setattr(aiohttp.client, "netrc_from_env", netrc)
    monkeypatch.setattr(aiohttp.client, "get_env_proxy_for_url", proxy)

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    t = AiohttpTransport()
    async with RawServer(ok) as srv:
        for _ in range(20):
            r = await t.send(Request("GET", srv.url))
            assert r.status == 200
    await t.close()
    assert calls == {"netrc": 0, "proxy": 0}


@pytest.mark.usefixtures("remote_stand_ins")
async def test_http_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    heads: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        heads.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied")
        await writer.drain()

    looked_up: list[str] = []
    real_resolve = aiohttp.connector.TCPConnector._resolve_host

    async def resolve(self: object, host: str, *args: object, **kw: object) -> object:
        looked_up.append(host)
        return await real_resolve(self, host, *args, **kw)  # type: ignore[arg-type]

    async with RawServer(proxy) as srv:
        monkeypatch.setenv("HTTP_PROXY", with_user(f"http://127.0.0.1:{srv.port}", "bob", "pw"))
        monkeypatch.setattr(aiohttp.connector.TCPConnector, "_resolve_host", resolve)
        t = AiohttpTransport()  # the environment is read here
        # a stand-in remote target (nothing listens there) that only the 127.0.0.1 proxy
        # sees: the client connects to the proxy's address, never the target's
        r = await t.send(Request("GET", "http://127.0.0.2:9/x"))
        await t.close()
    assert looked_up == ["127.0.0.1"]  # the proxy's; the target was not looked up
    assert (r.status, r.body) == (200, b"proxied")
    assert heads[0].startswith(b"GET http://127.0.0.2:9/x HTTP/1.1")
    assert b"Proxy-Authorization: Basic Ym9iOnB3" in heads[0]  # bob:pw


@pytest.mark.usefixtures("remote_stand_ins")
@pytest.mark.parametrize(("url", "proxied"), [
    ("http://127.0.0.2/", True),
    ("http://127.0.0.3/", False),  # in NO_PROXY
    ("http://127.0.0.1:8000/", False),  # loopback: never (Go)
    ("http://localhost:8000/", False),
    ("https://127.0.0.2/", False),  # no HTTPS_PROXY set
])
def test_no_proxy_and_loopback_are_not_proxied(monkeypatch: pytest.MonkeyPatch, url: str,
                                               proxied: bool) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.3")
    proxies = aiohttp_guards.EnvProxies()
    proxy, headers = proxies.for_url(URL(url))
    assert proxy == (URL("http://127.0.0.1:3128") if proxied else None) and headers is None
