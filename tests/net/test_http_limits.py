"""The limits every transport enforces against a hostile server (net/limits.py), the request
checks both share (net/validate.py), and what the client does around them: the body cap
per request / scenario / transport, credentials on cross-host redirects, the redirect-limit
warning, `Response.error_code` for HTTP errors, the k6 url/name tags."""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any

import pytest
from net_helpers import RawServer, make_transport, read_request
from urls import with_user

from loadgen.clock import RealClock
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net import limits
from loadgen.net.client import HttpClient, keeps_credentials, same_or_subdomain
from loadgen.net.meter import Meter
from loadgen.net.types import Headers, RawResponse, Request

CAP_MSG = "response body larger than max_response_bytes"


class _Tags:
    sample_tags = ()


def client(transport: Any, **kw: Any) -> tuple[HttpClient, Recorder]:
    rec = Recorder()
    meter = Meter(rec, RealClock(), _Tags(), Registry())
    return HttpClient(meter, transport, base_url=None, expected=((200, 399),), tag_cache={},
                      **kw), rec


def http_tags(rec: Recorder) -> list[dict[str, str]]:
    return [dict(r[2]) for r in rec.records]  # type: ignore[call-overload]


async def stream_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         n: int) -> None:
    """A chunked body that never ends (bounded here at 1 GiB)."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    for _ in range(2**14):
        writer.write(chunk)
        await writer.drain()


# -- body cap --------------------------------------------------------------------------------
async def test_both_transports_cap_bodies_by_default(kind: str) -> None:
    t = make_transport(kind)
    assert t.max_response_bytes == limits.DEFAULT_MAX_RESPONSE_BYTES == 64 * 2**20  # type: ignore[attr-defined]
    async with RawServer(stream_forever) as srv:
        r = await t.send(Request("GET", srv.url, timeout=20))
    await t.close()
    assert (r.status, r.error_code) == (0, 1000)
    assert r.error == f"{CAP_MSG} ({64 * 2**20})"


async def test_cap_per_request_beats_scenario_beats_transport(kind: str) -> None:
    async def body_of(n_bytes: int) -> Any:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          n: int) -> None:
            while True:
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n_bytes
                             + b"y" * n_bytes)
                await writer.drain()
        return handler

    t = make_transport(kind, max_response_bytes=100)
    c, _ = client(t, max_response_bytes=1000)
    async with RawServer(await body_of(500)) as srv:
        r = await c.get(srv.url)  # scenario's 1000 beats the transport's 100
        assert (r.status, len(r.body)) == (200, 500)
        r = await c.get(srv.url, max_response_bytes=400)
        assert (r.status, r.error) == (0, f"{CAP_MSG} (400)")
        r = await c.get(srv.url, max_response_bytes=0)  # 0: no cap
        assert r.status == 200
        c.max_response_bytes = None
        r = await c.get(srv.url)  # the transport's own
        assert r.error == f"{CAP_MSG} (100)"
    await t.close()


async def test_gzip_bomb_is_inflated_only_up_to_the_cap(kind: str) -> None:
    bomb = gzip.compress(bytes(16 * 2**20))  # 16 MiB of zeros in ~16 KiB

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % len(bomb) + bomb)
        await writer.drain()

    t = make_transport(kind, max_response_bytes=2**20)
    async with RawServer(handler) as srv:
        r = await t.send(Request("GET", srv.url))
    await t.close()
    assert (r.status, r.error_code) == (0, 1000)
    assert r.error == f"decompressed {CAP_MSG} ({2**20})"


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_large_framed_bodies_survive_parser_pauses(kind: str, encoding: str) -> None:
    """Big enough for aiohttp's parser to pause and resume (the Content-Length framing
    must not starve it); 256 MiB of zeros inflate from ~256 KiB of gzip."""
    plain = bytes(2**28) if encoding == "gzip" else b"z" * (24 * 2**20)
    wire = gzip.compress(plain, 9) if encoding == "gzip" else plain

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
                     % (encoding.encode(), len(wire)) + wire)
        await writer.drain()
        await asyncio.sleep(1)

    cap = limits.DEFAULT_MAX_RESPONSE_BYTES if encoding == "gzip" else 0
    t = make_transport(kind, max_response_bytes=cap)
    async with RawServer(handler) as srv:
        r = await t.send(Request("GET", srv.url, timeout=10))
    await t.close()
    if encoding == "gzip":
        assert r.error == f"decompressed {CAP_MSG} ({cap})"
    else:
        assert (r.status, len(r.body), r.error) == (200, len(plain), "")


# -- 1xx flood, header limits ------------------------------------------------------------------
def responder(head: bytes, body: bytes = b"ok", repeat: int = 1) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await read_request(reader)
        for _ in range(repeat):
            writer.write(head)
            await writer.drain()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        await asyncio.sleep(0.5)
    return handler


async def test_an_endless_102_flood_stops_after_five(kind: str) -> None:
    t = make_transport(kind)
    async with RawServer(responder(b"HTTP/1.1 102 Processing\r\n\r\n" * 100,
                                   repeat=2000)) as srv:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        r = await t.send(Request("GET", srv.url, timeout=20))
        assert loop.time() - t0 < 2
    await t.close()
    assert (r.status, r.error_code, r.error) == (
        0, 1000, "net/http: too many 1xx informational responses")


async def test_five_informational_responses_are_still_fine(kind: str) -> None:
    t = make_transport(kind)
    async with RawServer(responder(b"HTTP/1.1 102 Processing\r\n\r\n" * 5)) as srv:
        r = await t.send(Request("GET", srv.url))
    await t.close()
    assert (r.status, r.body) == (200, b"ok")


HEAD_CASES = {
    "50k headers": (b"".join(b"X-H%d: v\r\n" % i for i in range(50_000)),
                    "server response has more than 10000 header lines; aborted"),
    "1 MiB header": (b"X-Big: " + b"a" * 2**20 + b"\r\n",
                     "server response headers exceeded 1048576 bytes; aborted"),
}


@pytest.mark.parametrize("case", list(HEAD_CASES))
async def test_header_block_limits_agree(kind: str, case: str) -> None:
    lines, message = HEAD_CASES[case]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.5)

    t = make_transport(kind)
    async with RawServer(handler) as srv:
        r = await t.send(Request("GET", srv.url))
    await t.close()
    assert (r.status, r.error_code, r.error) == (0, 1000, message)


@pytest.mark.parametrize("pieces", [
    [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + b"Z" * 100],
    [b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
     b"lo" + b"Z" * 100],
    [b"HTTP/1.1 200 OK\r\nContent-Len", b"gth: 5\r\n\r", b"\nhe", b"llo\r\n\r\nZZZ"],
], ids=["one packet", "after a 1xx", "split"])
async def test_a_body_longer_than_its_content_length_is_cut_at_it(
        kind: str, pieces: list[bytes]) -> None:
    """Go (k6) reads Content-Length bytes and drops the connection's extra bytes; aiohttp's
    own parser failed the whole read, losing the response it had parsed."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await read_request(reader)
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)

    t = make_transport(kind)
    async with RawServer(handler) as srv:
        r = await t.send(Request("GET", srv.url))
        again = await t.send(Request("GET", srv.url))  # on a new connection
    await t.close()
    assert (r.status, r.body, r.error) == (200, b"hello", "")
    assert (again.status, again.body) == (200, b"hello")
    assert srv.connections == 2


async def test_garbage_from_the_server_is_a_short_clean_message(kind: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 2x0 \x00\x01\xffBAD\r\n" + b"\x07" * 5000 + b"\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)

    t = make_transport(kind)
    async with RawServer(handler) as srv:
        r = await t.send(Request("GET", srv.url))
    await t.close()
    assert (r.status, r.error_code) == (0, 1000)
    assert r.error.startswith("malformed HTTP response")
    assert len(r.error) <= 160 and r.error.isprintable(), r.error


# -- requests that cannot be sent --------------------------------------------------------------
@pytest.mark.parametrize(("url", "headers", "code", "needle"), [
    ("http://127.0.0.1:99999/", [], 1020, "invalid URL"),
    ("http://127.0.0.1:1/", [("X-A", "a\r\nInjected: 1")], 1000,
     "net/http: invalid header field value for 'X-A'"),
    ("http://127.0.0.1:1/", [("Bad Name", "v")], 1000, "invalid header field name"),
])
async def test_unsendable_requests_are_error_samples_on_both(
        kind: str, url: str, headers: list[tuple[str, str]], code: int, needle: str) -> None:
    t = make_transport(kind)
    c, rec = client(t)
    r = await c.get(url, headers=dict(headers))  # never raises
    await t.close()
    assert (r.status, r.error_code) == (0, code) and needle in r.error, r.error
    assert http_tags(rec)[0]["error_code"] == str(code)


# -- the client: credentials on redirects, the redirect-limit warning, codes and tags ---------
class Scripted:
    """A transport answering from a function of the request, keeping every request."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[Request] = []

    async def send(self, request: Request) -> RawResponse:
        self.requests.append(request)
        status, headers = self.answer(request)
        return RawResponse(status, Headers(headers), b"", "HTTP/1.1")

    async def close(self) -> None:
        pass


def redirect_to(location: str) -> Any:
    def answer(request: Request) -> tuple[int, list[tuple[str, str]]]:
        if request.url.endswith("/start"):
            return 302, [("Location", location)]
        return 200, []
    return answer


@pytest.mark.parametrize(("host", "of", "kept"), [
    ("app.test", "app.test", True),
    ("api.app.test", "app.test", True),  # a subdomain
    ("badapp.test", "app.test", False),  # a suffix, not a subdomain
    ("app.test", "api.app.test", False),  # the parent of the first host
    ("app.test", "", False),
])
def test_credentials_follow_to_the_same_host_or_a_subdomain(host: str, of: str,
                                                            kept: bool) -> None:
    """Go's host rule for a redirect, on host names alone (the tests address loopback only,
    which has no subdomains; the redirect flow itself is tested below on 127.0.0.x)."""
    assert same_or_subdomain(host, of) is kept


@pytest.mark.parametrize(("start", "location", "kept"), [
    ("http://127.0.0.1:8000/start", "http://127.0.0.2:8000/landing", False),
    ("http://127.0.0.1:8000/start", "http://127.0.0.1:9000/landing", True),  # port: same host
    ("https://127.0.0.1/start", "http://127.0.0.1/landing", False),  # downgrade
    ("http://127.0.0.1/start", "https://127.0.0.1/landing", True),
])
async def test_credentials_follow_a_redirect_only_to_the_same_host(start: str, location: str,
                                                                   kept: bool) -> None:
    assert keeps_credentials(start, location) is kept
    t = Scripted(redirect_to(location))
    c, _ = client(t)
    c.cookies.update_from(start, ["jar=1; Path=/"])
    await c.get(start, headers={"Authorization": "Bearer s3cret", "Cookie2": "x",
                                "X-Custom": "c"}, cookies={"own": "2"})
    first, second = (dict(r.headers) for r in t.requests)
    assert first["Authorization"] == "Bearer s3cret" and "own=2" in first["Cookie"]
    assert second["X-Custom"] == "c"  # Go forwards the other headers
    if kept:
        assert second["Authorization"] == "Bearer s3cret" and "own=2" in second["Cookie"]
    else:
        assert "Authorization" not in second and "Cookie2" not in second
        assert "own=2" not in second.get("Cookie", "")


async def test_jar_cookies_still_follow_their_domain_across_hosts() -> None:
    t = Scripted(redirect_to("http://127.0.0.2:8000/landing"))
    c, _ = client(t)
    c.cookies.update_from("http://127.0.0.2:8000/", ["other=1; Path=/"])
    await c.get("http://127.0.0.1:8000/start")
    assert dict(t.requests[1].headers)["Cookie"] == "other=1"


async def test_a_cut_redirect_chain_warns_once_per_run(caplog: pytest.LogCaptureFixture) -> None:
    t = Scripted(lambda request: (302, [("Location", "/start")]))
    warned: dict[str, int] = {}

    def warn_once(key: str, message: str) -> None:
        warned[key] = warned.get(key, 0) + 1
        if warned[key] == 1:
            logging.getLogger("loadgen").warning(message)

    c, _ = client(t, warn_once=warn_once)
    with caplog.at_level(logging.WARNING, logger="loadgen"):
        for _ in range(3):
            r = await c.get("http://127.0.0.1:8000/start")
            assert r.status == 302 and len(r.history) == 10
        r = await c.get("http://127.0.0.1:8000/start", redirects=2)  # explicit: silent
    assert len(t.requests) == 3 * 11 + 3
    texts = [rec.getMessage() for rec in caplog.records]
    assert len(texts) == 1
    assert texts[0].startswith("Stopped after 10 redirects and returned the redirection; pass "
                               "{ redirects: n } in request params or set global maxRedirects "
                               "to silence this")


async def test_response_error_code_is_k6s_for_http_errors() -> None:
    t = Scripted(lambda request: (503, []))
    c, rec = client(t)
    r = await c.get("http://127.0.0.1:8000/")
    assert r.error_code == 1503 and r.error == ""
    assert http_tags(rec)[0]["error_code"] == "1503"


async def test_name_tag_sets_url_too_as_k6_does() -> None:
    """k6-compat 5.2: with a user `name`, `url` is set to it as well (cardinality); without
    one, both are the URL without credentials."""
    t = Scripted(lambda request: (200, []))
    c, rec = client(t)
    await c.get(with_user("http://127.0.0.1:8000/item/7", "u", "p"), name="item")
    await c.get(with_user("http://127.0.0.1:8000/item/7", "u", "p"))
    named, plain = http_tags(rec)
    assert (named["url"], named["name"]) == ("item", "item")
    assert plain["url"] == plain["name"] == "http://127.0.0.1:8000/item/7"
