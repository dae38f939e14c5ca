"""vu.http through the aiohttp transport against a loopback server: bodies, params,
redirects (one sample per hop, as k6), cookies per VU, network errors as k6 codes."""

from __future__ import annotations

from fakes import Harness
from realrun import RealRun
from servers import serve

from loadgen import PerVUIterations, Scenario
from loadgen.metrics.model import HTTP

seen: dict[str, object] = {}


class Bodies(Scenario):
    async def iteration(self, vu):
        r = await vu.http.post("/echo", json={"a": 1}, params={"q": "x y"})
        seen["json"] = r.json()
        r = await vu.http.post("/echo", data={"f": "1"})
        seen["form"] = r.json()
        r = await vu.http.put("/echo", body=b"\x00" * 1000,
                              headers={"Content-Type": "application/octet-stream"})
        seen["raw"] = r.json()
        r = await vu.http.get("/redirect/2", name="redir")
        seen["redirect"] = (r.status, r.text(), [h.status for h in r.history])
        await vu.http.get("/cookie/set")
        r = await vu.http.get("/echo")
        seen["cookie"] = r.json()["cookie"]
        r = await vu.http.get("/status/404")
        seen["404"] = r.status
        r = await vu.http.get("http://127.0.0.1:1/closed")
        seen["refused"] = (r.status, r.error, r.error_code)


async def test_bodies_redirects_cookies_and_errors():
    with serve() as url:
        rr = RealRun(url)
        await rr.run((Bodies, PerVUIterations(vus=1, iterations=1)))
    assert seen["json"] == {"method": "POST", "len": 7, "ctype": "application/json",
                            "query": {"q": "x y"}, "cookie": ""}
    assert seen["form"]["ctype"] == "application/x-www-form-urlencoded"
    assert seen["raw"]["len"] == 1000
    assert seen["redirect"] == (200, "landed", [302, 302])
    assert seen["cookie"] == "session=abc123"
    assert seen["404"] == 404
    assert seen["refused"] == (0, "dial: connection refused", 1212)
    http = [dict(r[2]) for r in rr.records if r[0] == HTTP]
    redirect_hops = [t for t in http if t["name"] == "redir"]
    assert [t["status"] for t in redirect_hops] == ["302", "302", "200"]
    not_found = next(t for t in http if t["status"] == "404")
    assert not_found["error_code"] == "1404" and "error" not in not_found
    assert not_found["expected_response"] == "false"
    refused = next(t for t in http if t["status"] == "0")
    assert refused["error_code"] == "1212" and refused["error"] == "dial: connection refused"
    assert "proto" not in refused
    failed = [r[10] for r in rr.records if r[0] == HTTP]
    assert failed.count(1) == 2  # the 404 and the refused connection


async def test_rps_limit_is_a_global_token_bucket():
    from loadgen.net.limiter import RateLimiter

    class Two(Scenario):
        async def iteration(self, vu):
            await vu.http.get("/a")
            await vu.http.get("/b")

    h = Harness(latency=lambda r: 0.0)
    h.run_ctx.limiter = RateLimiter(10, h.clock)
    from loadgen import ConstantVUs

    await h.run((Two, ConstantVUs(vus=5, duration="2s", graceful_stop="0s")))
    # k6's rps.js: 5 VUs, 2 s, --rps 10, 2 requests per iteration -> 20 requests sent in 2 s
    assert 19 <= len(h.transport.requests) <= 21
    assert h.count("iterations") in (9, 10)


async def test_expected_statuses_and_no_callback():
    class S(Scenario):
        expected_statuses = (404, (200, 204))

        async def iteration(self, vu):
            await vu.http.get("/x")
            await vu.http.get("/y", expected_statuses=None)

    h = Harness()
    h.server.status = 404
    await h.run((S, PerVUIterations(vus=1, iterations=1)))
    recs = [r for r in h.records if r[0] == HTTP]
    assert dict(recs[0][2])["expected_response"] == "true" and recs[0][10] == 0
    assert "expected_response" not in dict(recs[1][2]) and recs[1][10] is None
