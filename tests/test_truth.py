"""A dead or slow target must never pass a latency gate: what is still in flight or never
served at the end of a run is recorded, on the fake clock (no real sleeps)."""

from __future__ import annotations

import math

from fakes import Harness

from loadgen import ConstantArrivalRate, ConstantVUs, Scenario

MS = 1_000_000


class Get(Scenario):
    name = "get"

    async def iteration(self, vu):
        await vu.http.get("/")


async def test_a_request_in_flight_at_graceful_stop_is_recorded_as_failed():
    h = Harness(latency=lambda r: 3600.0)  # never answers within the run
    await h.run((Get, ConstantVUs(vus=2, duration="1s", graceful_stop="500ms")))
    durations = h.samples("http_req_duration")
    assert len(durations) == 2  # one per VU, cut off at the end of gracefulStop
    for _, ms, tags in durations:
        assert ms == 1500.0  # its elapsed time: a lower bound of what a user waited
        assert tags["error_code"] == "1050"
        assert "interrupted" in tags["error"]
        assert tags["status"] == "0"
    assert [v for _, v, _ in h.samples("http_req_failed")] == [1.0, 1.0]
    assert h.count("iterations") == 0  # the iterations were interrupted, not completed
    rt = h.engine.runtimes[0]
    assert rt.interrupted == 2
