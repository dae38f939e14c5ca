"""A dead or slow target must never pass a latency gate: what is still in flight or never
served at the end of a run is recorded, on the fake clock (no real sleeps)."""

from __future__ import annotations

import io
import json
import math

import numpy as np
from fakes import Harness

from loadgen import ConstantArrivalRate, ConstantVUs, Scenario
from loadgen.execution.engine import Hooks, StopRequest
from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.registry import Registry
from loadgen.metrics.timeseries import TrendAgg
from loadgen.results.ndjson import NdjsonWriter

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


async def test_dropped_iterations_are_unserved_in_iteration_latency():
    # 100/s for 4 s, 20 VUs max, the target stalls for the first 3 s: most arrivals of the
    # stall find no VU and are dropped. Their users were never served, so p95 cannot be the
    # few milliseconds of the iterations that did run.
    h = Harness()
    t0 = h.clock.now_ns()
    h.server.latency = lambda r: max(3.0 - (h.clock.now_ns() - t0) / 1e9, 0.0) + 0.005
    await h.run((Get, ConstantArrivalRate(rate=100, duration="4s", pre_allocated_vus=20,
                                          max_vus=20)))
    lat = [v for _, v, _ in h.samples("iteration_latency")]
    dropped = h.count("dropped_iterations")
    assert dropped > 250
    assert lat.count(math.inf) == dropped
    sink = TrendSink()
    for v in lat:
        sink.add(v)
    assert sink.unserved == dropped
    assert sink.percentile(95) == math.inf  # among the unserved, never a small number
    assert sink.percentile(10) < 10  # the served ones keep their own values


async def test_interrupted_arrivals_are_unserved_in_iteration_latency():
    h = Harness(latency=lambda r: 3600.0)
    await h.run((Get, ConstantArrivalRate(rate=10, duration="1s", pre_allocated_vus=20,
                                          graceful_stop="0s")))
    lat = [v for _, v, _ in h.samples("iteration_latency")]
    assert lat == [math.inf] * 10
    assert len(h.samples("iteration_lag")) == 10  # they did start: their lag is known


def test_the_ndjson_stream_stays_valid_json_with_unserved_latencies():
    """JSON has no infinity (Go would write +Inf): an unserved latency point is left out of
    the NDJSON stream, every other point is written."""
    reg = Registry()
    buf = io.BytesIO()
    w = NdjsonWriter(buf)
    w.sample(reg["iteration_latency"], 1_700_000_000_000_000_000, math.inf, {"scenario": "s"})
    w.sample(reg["iteration_latency"], 1_700_000_000_000_000_000, 12.5, {"scenario": "s"})
    w.flush()
    lines = [json.loads(x) for x in buf.getvalue().decode().splitlines()]
    assert [x["data"]["value"] for x in lines if x["type"] == "Point"] == [12.5]


async def test_a_stopped_run_counts_its_running_arrivals_as_unserved():
    """A stop request (a Stress test that found its limit, abortOnFail) interrupts running
    iterations: their users were never served, so they are not missing from the view."""
    h = Harness(latency=lambda r: 3600.0)
    stop = StopRequest("found the limit", 0)
    await h.run((Get, ConstantArrivalRate(rate=10, duration="10s", pre_allocated_vus=50)),
                hooks=Hooks(tick=lambda elapsed: stop if elapsed >= 2 else None))
    lat = [v for _, v, _ in h.samples("iteration_latency")]
    assert len(lat) == 21 and set(lat) == {math.inf}  # started at 0, 0.1 ... 2.0 s: none served
    assert [v for _, v, _ in h.samples("http_req_failed")] == [1.0] * 21


def test_per_second_trend_aggregates_leave_unserved_values_out():
    """The per-interval series (NDJSON buckets, test-type verdicts) hold served values only:
    an unserved +inf would make avg and max infinite and the bucket writer emit +Inf."""
    agg = TrendAgg()
    agg.add(np.array([10.0, math.inf, 20.0]))
    agg.add(np.array([math.inf]))
    v = agg.values(1.0)
    assert (v["count"], v["avg"], v["max"]) == (2, 15.0, 20.0)
