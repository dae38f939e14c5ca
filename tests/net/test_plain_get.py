"""The C plain GET (net/_get.c, net/plain_get.py) against its Python twin, the client's own
`request("GET", url)`: the same requests on real loopback sockets through both, and the
same responses, records, byte counters, pool state and retries out of both; plus what it
hands over to the Python (errors, redirects, decoding, cookies, a stale connection), a
cancellation in flight, the coroutine protocol asyncio relies on, and no leak per request.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from net_helpers import RawServer, read_request, start_app

from loadgen.clock import RealClock
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.slowest import SlowestRequests
from loadgen.net import client as client_mod
from loadgen.net import plain_get
from loadgen.net.client import HttpClient
from loadgen.net.fast import FastTransport
from loadgen.net.fast_request import head_for
from loadgen.net.meter import Meter

pytestmark = pytest.mark.skipif(client_mod._PLAIN_GET is None,
                                reason="the C plain GET was not built (pure-Python install)")

BASE = client_mod._BASE_HEADER_LIST
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class _Tags:
    sample_tags = (("scenario", "s"),)


def make_client(*, c_path: bool, expected: Any = client_mod.K6_EXPECTED,
                slowest: SlowestRequests | None = None) -> tuple[HttpClient, Recorder]:
    rec = Recorder()
    meter = Meter(rec, RealClock(), _Tags(), Registry(), slowest=slowest)
    c = HttpClient(meter, FastTransport(), base_url=None, expected=expected, tag_cache={})
    assert c._plain is True  # a fast transport and the real clock: the C path applies
    c._plain = c_path
    return c, rec


def view(resp: Any) -> tuple[Any, ...]:
    """What a scenario can see of a response, without the times and the Date header."""
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() != "date"]
    assert all(t >= 0 for t in resp.timings)
    return (resp.status, resp.body, headers, resp.url, resp.method, resp.proto, resp.error,
            resp.error_code, [(h.status, h.url) for h in resp.history])


def records(rec: Recorder) -> list[tuple[Any, ...]]:
    """The records without their clock readings: kind, tags, expected flag."""
    out = []
    for r in rec.records:
        assert all(v >= 0 for v in r[3:10])
        assert abs(r[3] - (r[7] + r[8] + r[9])) < 1e-9  # duration = sending+waiting+receiving
        out.append((r[0], dict(r[2]), r[10]))  # type: ignore[call-overload]
    return out


def state(c: HttpClient) -> tuple[Any, ...]:
    t = c.transport
    assert isinstance(t, FastTransport)
    return (c.meter.bytes_sent, c.meter.bytes_received, t.retries, t.connects,
            sum(len(v) for v in t.pool.idle.values()), len(t.pool.open), len(c.cookies))


class Calls:
    """Counts HttpClient.request calls by whether the C path handed over a first hop."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.plain = self.resumed = 0
        original = HttpClient.request

        def request(client: HttpClient, *a: Any, **kw: Any) -> Any:
            if kw.get("_resume") is None:
                self.plain += 1
            else:
                self.resumed += 1
            return original(client, *a, **kw)

        monkeypatch.setattr(HttpClient, "request", request)


@pytest.fixture
async def app() -> AsyncIterator[str]:
    runner, port = await start_app()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def scrub(obj: Any, url: str) -> Any:
    """obj with the server's URL taken out of every string (each run has its own port)."""
    if isinstance(obj, str):
        return obj.replace(url, "URL")
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub(o, url) for o in obj)
    if isinstance(obj, dict):
        return {k: scrub(v, url) for k, v in obj.items()}
    return obj


async def both(steps: Callable[[HttpClient], Awaitable[tuple[str, list[Any]]]], **kw: Any,
               ) -> tuple[list[Any], list[Any]]:
    """Run `steps` (which gives its server's URL and its results) through a C client and a
    Python one; each gives [results, records, counters and pool], the URL scrubbed."""
    out = []
    for c_path in (True, False):
        c, rec = make_client(c_path=c_path, **kw)
        try:
            url, got = await steps(c)
            out.append(scrub([got, records(rec), state(c)], url))
        finally:
            await c.transport.close()
    return out[0], out[1]


PATHS = ["/text", "/text", "/text", "/status/404", "/text", "/status/500", "/gzip", "/text",
         "/chunked", "/redirect/2", "/text", "/big", "/status/201", "/status/201", "/close",
         "/text", "/status/204", "/set-cookie", "/cookies", "/text"]


async def test_c_and_python_agree_on_every_kind_of_answer(app: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    async def steps(c: HttpClient) -> list[Any]:
        return app, [view(await c.get(app + p)) for p in PATHS]

    for p in PATHS:  # the heads cached (the first request of a URL builds its head)
        head_for("GET", app + p, BASE)
    calls = Calls(monkeypatch)
    c_run, py_run = await both(steps)
    assert c_run == py_run
    assert [r[1] for r in c_run[0][:3]] == [b"hello world!"] * 3
    assert c_run[0][-2][1] == b"session=abc123"  # the cookie set by the C client's run
    # The Python client went through request() for every call. The C one handed the whole
    # call over 4 times: the first (no pooled connection yet), after /close, and the two
    # once a cookie is set; and a first hop 10 times: the first 404, 500, 201, 204 and
    # /close (a tag set not made yet), gzip, chunked, 1 MiB in several reads, a redirect
    # and Set-Cookie (no whole plain response). The other 6 were C's alone.
    assert (calls.plain, calls.resumed) == (len(PATHS) + 4, 10)


async def test_expected_statuses_and_slowest(app: str) -> None:
    async def steps(c: HttpClient) -> list[Any]:
        return app, [view(await c.get(app + p)) for p in ["/text", "/status/404",
                                                           "/status/404", "/text",
                                                           "/status/418"]]

    for expected in (None, [200, 404], [(400, 499)]):
        c_run, py_run = await both(steps, expected=expected)
        assert c_run == py_run
    c_slow, py_slow = SlowestRequests(3), SlowestRequests(3)
    for s, c_path in ((c_slow, True), (py_slow, False)):
        c, _ = make_client(c_path=c_path, slowest=s)
        for _ in range(6):
            await c.get(app + "/text")
        await c.transport.close()
    rows = [[(r["method"], r["url"], r["status"]) for r in s.rows()] for s in (c_slow, py_slow)]
    assert rows[0] == rows[1] == [("GET", app + "/text", 200)] * 3


def serve(plan: list[str]) -> Callable[..., Awaitable[None]]:
    """A raw server: connection n follows plan[n] ("ok,ok,hang" answers two requests then
    waits without answering; "ok,drop" answers one, reads the next and closes)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        for step in plan[min(n, len(plan) - 1)].split(","):
            await read_request(reader)
            if step == "ok":
                writer.write(OK)
                await writer.drain()
            elif step == "hang":
                await asyncio.sleep(5)
                return
            else:  # drop
                return
        await asyncio.sleep(5)

    return handler


async def test_a_stale_pooled_connection_is_retried_once_on_a_fresh_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def steps(c: HttpClient) -> tuple[str, list[Any]]:
        async with RawServer(serve(["ok,drop", "ok,ok"])) as srv:
            got: list[Any] = [view(await c.get(srv.url)) for _ in range(3)]
            return srv.url, [*got, srv.connections, len(head_for("GET", srv.url, BASE).end)]

    calls = Calls(monkeypatch)
    c_run, py_run = await both(steps)
    assert (calls.plain, calls.resumed) == (1 + 3, 1)  # C: the first call, then the retry
    assert c_run == py_run
    got, recs, (sent, _, retries, connects, *_) = c_run
    assert [g[0] for g in got[:3]] == [200, 200, 200] and got[3] == 2
    assert (retries, connects, len(recs)) == (1, 2, 3)
    assert sent == 4 * got[4]  # three requests, one of them written twice


async def test_timeout_while_waiting_on_a_pooled_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def steps(c: HttpClient) -> tuple[str, list[Any]]:
        c.timeout = 0.3
        async with RawServer(serve(["ok,hang"])) as srv:
            return srv.url, [view(await c.get(srv.url)) for _ in range(2)]

    calls = Calls(monkeypatch)
    c_run, py_run = await both(steps)
    assert (calls.plain, calls.resumed) == (1 + 2, 1)  # C: the first call, then the error
    assert c_run == py_run
    assert c_run[0][1][6:8] == ("request timeout", 1050)
    assert c_run[1][1][2] == 1  # the record says unexpected


async def test_cancel_in_flight_records_interrupted_and_drops_the_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def steps(c: HttpClient) -> tuple[str, list[Any]]:
        async with RawServer(serve(["ok,hang"])) as srv:
            first = view(await c.get(srv.url))
            task = asyncio.create_task(c.get(srv.url))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return srv.url, [first, task.cancelled()]

    calls = Calls(monkeypatch)
    c_run, py_run = await both(steps)
    assert (calls.plain, calls.resumed) == (1 + 2, 0)  # the cancelled one was C's
    assert c_run == py_run
    recs, (_, _, _, _, idle, open_, _) = c_run[1], c_run[2]
    assert recs[-1][1]["error_code"] == "1050" and recs[-1][2] == 1
    assert (idle, open_) == (0, 0)


async def test_it_is_a_coroutine_to_asyncio(app: str) -> None:
    c, _ = make_client(c_path=True)
    await c.get(app + "/text")  # a pooled connection and a cached head
    aw = c.get(app + "/text")
    assert type(aw).__name__ == "Get" and asyncio.iscoroutine(aw)
    assert (await asyncio.create_task(aw)).status == 200
    a, b = await asyncio.gather(c.get(app + "/text"), c.get(app + "/status/404"))
    assert (a.status, b.status) == (200, 404)
    with pytest.raises(RuntimeError, match="already awaited"):
        aw.send(None)
    never = c.get(app + "/text")
    never.close()  # never started: nothing sent, nothing recorded
    with pytest.raises(TypeError, match="non-None"):
        c.get(app + "/text").send(1)
    with pytest.raises(ZeroDivisionError):
        c.get(app + "/text").throw(ZeroDivisionError)
    await c.transport.close()


async def test_no_reference_left_behind_per_request() -> None:
    """20,000 C GETs: a reference kept per request (a float, a tuple, a response) would
    grow the traced memory by 0.5-5 MB."""
    c, rec = make_client(c_path=True)
    async with RawServer(serve(["ok," * 30_000])) as srv:
        for _ in range(200):
            await c.get(srv.url)
        gc.collect()
        rec.records.clear()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            await c.get(srv.url)
            if i % 1000 == 0:
                rec.records.clear()
        rec.records.clear()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    await c.transport.close()
    assert grown < 200_000, grown


async def test_applies_only_to_the_fast_transport_and_the_real_clock() -> None:
    from loadgen.clock import FakeClock
    from loadgen.net.aiohttp_transport import AiohttpTransport

    real = Meter(Recorder(), RealClock(), _Tags(), Registry())
    fake = Meter(Recorder(), FakeClock(), _Tags(), Registry())
    other = AiohttpTransport()
    assert plain_get.applies(FastTransport(), real)
    assert not plain_get.applies(other, real)
    assert not plain_get.applies(FastTransport(), fake)
    await other.close()


async def test_driven_by_hand_and_under_a_tracer(app: str) -> None:
    """send()/__next__ (what the interpreter calls instead of am_send while a tracer such
    as coverage or a debugger is set) give the same steps and result."""
    c, _ = make_client(c_path=True)
    await c.get(app + "/text")
    aw = c.get(app + "/text")
    fut = aw.send(None)  # the request is out: what it yields is the connection's future
    assert isinstance(fut, asyncio.Future) and fut._asyncio_future_blocking
    fut._asyncio_future_blocking = False  # taken, as a Task takes it
    await fut
    with pytest.raises(StopIteration) as stop:
        aw.send(None)
    assert stop.value.value.status == 200
    before = sys.gettrace()
    sys.settrace(lambda *a: None)
    try:
        got = [(await c.get(app + p)).status for p in ("/text", "/status/404", "/gzip")]
    finally:
        sys.settrace(before)
    assert got == [200, 404, 200]
    await c.transport.close()
