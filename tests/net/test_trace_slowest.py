"""--trace-header and --slowest on each transport, against a loopback server: the trace id
reaches the server, fresh per request, and the slowest list names
the endpoint the server delays, with the trace id the server saw."""

from __future__ import annotations

import re
from typing import Any

import pytest
from endpoint_servers import endpoint_server
from realrun import RealRun

from loadgen import PerVUIterations, Scenario
from loadgen.metrics.slowest import SlowestRequests
from loadgen.net.aiohttp_transport import AiohttpTransport
from loadgen.net.fast import FastTransport
from loadgen.net.trace import TraceIds

W3C = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


class Mixed(Scenario):
    async def iteration(self, vu: Any) -> None:
        for _ in range(3):
            await vu.http.get("/dashboard", name="dashboard")
        await vu.http.get("/messages", name="messages")
        await vu.http.get("/dashboard", name="own", headers={"TraceParent": "mine"})


@pytest.mark.parametrize("transport", [FastTransport, AiohttpTransport])
async def test_trace_ids_reach_the_server_and_name_the_slowest(transport: type) -> None:
    with endpoint_server(slow_ms=150) as (url, seen):
        rr = RealRun(url, transport=transport)
        rr.run_ctx.trace = TraceIds()
        rr.run_ctx.slowest = slow = SlowestRequests(2)
        await rr.run((Mixed, PerVUIterations(vus=2, iterations=2)))
    sent = seen.header("traceparent")
    assert len(sent) == 20
    assert sent.count("mine") == 4  # a scenario's own header is kept, not doubled
    ids = [m.group(1) for v in sent if (m := W3C.match(v))]
    assert len(ids) == 16 and len(set(ids)) == 16  # fresh per request
    rows = slow.rows()
    assert [r["name"] for r in rows] == ["messages", "messages"]
    assert rows[0]["duration_ms"] >= rows[1]["duration_ms"] >= 150
    assert {r["trace_id"] for r in rows} <= set(ids)
    assert rows[0]["url"] == url + "/messages" and rows[0]["status"] == 200
    assert rows[0]["method"] == "GET" and rows[0]["scenario"] == "mixed"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", rows[0]["started"])


class Once(Scenario):
    async def iteration(self, vu: Any) -> None:
        await vu.http.get("/fail/404", name="once")


async def test_another_header_name_gets_a_bare_id_and_off_sends_nothing() -> None:
    with endpoint_server() as (url, seen):
        rr = RealRun(url, transport=FastTransport)
        rr.run_ctx.trace = TraceIds("X-Request-Id")
        await rr.run((Once, PerVUIterations(vus=1, iterations=2)))
        plain = RealRun(url, transport=FastTransport)
        await plain.run((Once, PerVUIterations(vus=1, iterations=1)))
    got = seen.header("x-request-id")
    assert len(got) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", g) for g in got)
    assert len(seen.requests) == 3 and seen.header("traceparent") == []


def test_a_bad_header_name_is_a_config_error() -> None:
    from loadgen.errors import ConfigError

    with pytest.raises(ConfigError, match="not a valid HTTP header name"):
        TraceIds("bad header")
