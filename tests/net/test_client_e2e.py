"""vu.http (net/client.py) end to end over each transport: redirects (each hop recorded, as
k6), cookies per VU, the HTTP record's tags and timings, a network error's tags."""

from __future__ import annotations

from typing import Any

import pytest
from realrun import RealRun
from servers import serve

from loadgen import PerVUIterations, Scenario
from loadgen.metrics.model import HTTP
from loadgen.net.aiohttp_transport import AiohttpTransport
from loadgen.net.fast import FastTransport

seen: dict[str, Any] = {}


class Journey(Scenario):
    async def iteration(self, vu: Any) -> None:
        r = await vu.http.get("/redirect/2", name="redir")
        seen["redirect"] = (r.status, r.text(), [h.status for h in r.history],
                            [h.url.rsplit("/", 2)[-2:] for h in r.history])
        await vu.http.get("/cookie/set")
        r = await vu.http.get("/echo")
        seen["cookie"] = r.json()["cookie"]
        r = await vu.http.post("/echo", json={"a": 1})
        seen["post"] = r.json()
        r = await vu.http.get("http://127.0.0.1:1/closed")
        seen["refused"] = (r.status, r.error, r.error_code)


@pytest.mark.parametrize("transport", [FastTransport, AiohttpTransport])
async def test_redirects_and_cookies(transport: type) -> None:
    seen.clear()
    with serve() as url:
        rr = RealRun(url, transport=transport)
        await rr.run((Journey, PerVUIterations(vus=1, iterations=1)))
    assert seen["redirect"] == (200, "landed", [302, 302], [["redirect", "2"], ["redirect", "1"]])
    assert seen["cookie"] == "session=abc123"
    assert seen["post"]["len"] == 7 and seen["post"]["ctype"] == "application/json"
    assert seen["refused"] == (0, "dial: connection refused", 1212)
    http = [r for r in rr.records if r[0] == HTTP]
    tags = [dict(r[2]) for r in http]
    hops = [t for t in tags if t["name"] == "redir"]
    assert [t["status"] for t in hops] == ["302", "302", "200"]
    assert all(t["proto"] == "HTTP/1.1" and t["method"] == "GET" for t in hops)
    refused = next(t for t in tags if t["status"] == "0")
    assert refused["error_code"] == "1212" and "proto" not in refused
    # record layout: (HTTP, t, tags, duration, blocked, connecting, tls, sending, waiting,
    # receiving, failed); the first hop opened the connection, the later ones reused it
    first, second = http[0], http[1]
    assert first[5] > 0 and second[5] == 0
    assert first[3] == pytest.approx(first[7] + first[8] + first[9])
