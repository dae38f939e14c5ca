"""The report's per-interval series: exact per-second percentiles (several processes'
snapshots of one second merged first, never averaged), bounded rows and names."""

from __future__ import annotations

import time

import numpy as np
import pytest
from report_fixtures import interval, trend

from loadgen.report.collect import OTHER, SETTLE_S, ReportCollector


def exact(values: list[float], p: float) -> float:
    return trend(values).percentile(p)


def test_one_second_of_two_workers_is_the_percentile_of_their_union() -> None:
    rng = np.random.default_rng(3)
    a, b = list(rng.lognormal(1, 1, 300)), list(rng.lognormal(3, 0.2, 200))
    c = ReportCollector()
    c.observe(interval(0.0, {"/a": a}, vus=3))
    c.observe(interval(0.004, {"/a": b, "/b": [7.0]}, vus=4))  # the other worker's cut
    s = c.finish()
    assert s.t == [0.0]
    union = a + b
    assert s.by_name["/a"]["p95"] == [pytest.approx(exact(union, 95), rel=1e-12)]
    assert s.by_name["/a"]["p50"] == [pytest.approx(exact(union, 50), rel=1e-12)]
    assert s.cols["p99"] == [pytest.approx(exact([*union, 7.0], 99), rel=1e-12)]
    assert s.cols["reqs"] == [501] and s.cols["vus"] == [7]
    # an average of the two workers' p95 would be far off: the union's is not between them
    assert s.totals["/a"]["count"] == 500


def test_hdr_intervals_give_the_merged_histograms_percentiles() -> None:
    rng = np.random.default_rng(4)
    parts = [list(rng.exponential(20, 4000)) for _ in range(3)]
    c = ReportCollector()
    for i, p in enumerate(parts):
        c.observe(interval(0.001 * i, {"/x": p}, exact_limit=0))  # HDR phase, as long runs
    s = c.finish()
    merged = trend([], exact_limit=0)
    for p in parts:
        merged.merge(trend(p, exact_limit=0))
    for q in (50, 90, 95, 99):
        assert s.cols[f"p{q}"] == [pytest.approx(merged.percentile(q), rel=1e-12)]
    everything = sorted(v for p in parts for v in p)
    assert s.totals["/x"]["p99"] == pytest.approx(np.percentile(everything, 99), rel=1e-3)
    assert s.totals["/x"]["max"] == max(everything)


@pytest.mark.parametrize("max_points", [7, 8])
def test_long_runs_pair_rows_keeping_counts_and_the_worst_second(max_points: int) -> None:
    c = ReportCollector(max_points=max_points)
    for sec in range(20):
        c.observe(interval(float(sec), {"/x": [float(sec + 1)] * 10}, failed={"/x": 1}))
    s = c.finish()
    assert len(s.t) <= max_points and s.width_s > 1
    assert len(s.by_name["/x"]["max"]) == len(s.t)  # the name's rows line up with the times
    assert s.by_name["/x"]["max"] == s.cols["max"]
    assert sum(v or 0 for v in s.cols["reqs"]) == 200
    assert sum(v or 0 for v in s.cols["failed"]) == 20
    assert sum(v or 0 for v in s.cols["width"]) == pytest.approx(20)
    assert max(v or 0 for v in s.cols["max"]) == 20.0  # the worst second is still there
    # second k's requests took k+1 ms: a row is its worst second, not the mean of its seconds
    assert s.cols["p50"][0] == s.cols["width"][0]


def test_a_runaway_name_tag_is_bounded() -> None:
    c = ReportCollector(max_names=3)
    for sec in range(3):
        c.observe(interval(float(sec), {f"/user/{sec}-{i}": [1.0] for i in range(50)}))
    s = c.finish()
    assert len(s.names) == 4 and OTHER in s.names
    assert s.totals[OTHER]["count"] == 147


def test_a_second_that_arrives_after_it_was_drawn_still_counts_in_totals() -> None:
    c = ReportCollector()
    for sec in range(SETTLE_S + 3):
        c.observe(interval(float(sec), {"/x": [1.0]}))
    c.observe(interval(0.0, {"/x": [2.0]}))  # a worker far behind
    s = c.finish()
    assert s.late == 1 and s.totals["/x"]["count"] == SETTLE_S + 4
    assert s.cols["reqs"][0] == 1


def test_a_10_minute_soak_collects_in_a_second_or_two() -> None:
    rng = np.random.default_rng(5)
    ivs = [interval(float(s), {f"/api/{i}": list(rng.lognormal(1, 0.5, 100))
                               for i in range(5)}, exact_limit=0, vus=50)
           for s in range(600)]
    c = ReportCollector()
    t0 = time.perf_counter()
    for iv in ivs:
        c.observe(iv)
    s = c.finish()
    took = time.perf_counter() - t0
    assert len(s.t) == 600  # one point per second: no pairing below MAX_POINTS
    assert took < 5, took  # ~1 s on the project's 2-core machine


def test_a_runs_last_short_cut_joins_the_second_before() -> None:
    c = ReportCollector()
    c.observe(interval(0.0, {"/x": [1.0] * 100}, width=1.002))
    c.observe(interval(1.002, {"/x": [9.0] * 3}, width=0.01))  # the end-of-run cut
    s = c.finish()
    assert s.t == [0.0] and s.cols["reqs"] == [103]
    assert s.cols["width"] == [pytest.approx(1.012)]  # ~102 req/s, not 300 req/s
    assert s.cols["max"] == [9.0]
