"""TimeSeries: bucketing by record time, lossless merge maths, bounded downsampling."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.metrics.model import Metric, MetricType
from loadgen.metrics.timeseries import (
    Bucket,
    CounterAgg,
    GaugeAgg,
    RateAgg,
    TimeSeries,
    TrendAgg,
)

S = 1_000_000_000
DUR = Metric("http_req_duration", MetricType.TREND)
REQS = Metric("http_reqs", MetricType.COUNTER)
FAILED = Metric("http_req_failed", MetricType.RATE)
VUS = Metric("vus", MetricType.GAUGE)


def arr(*v: float) -> np.ndarray:
    return np.array(v, dtype=np.float64)


def times(*secs: float) -> np.ndarray:
    return (np.array(secs) * S).astype(np.int64)


def test_trend_agg_percentiles_within_bound() -> None:
    values = np.random.default_rng(1).lognormal(0, 1.2, 200_000)
    agg = TrendAgg()
    for chunk in np.array_split(values, 9):
        agg.add(chunk)
    got = agg.values(1.0)
    assert got["count"] == len(values) and got["min"] == values.min()
    assert got["max"] == values.max() and got["avg"] == pytest.approx(values.mean())
    for p in (50, 90, 95, 99):
        exp = float(np.percentile(values, p, method="linear"))
        assert got[f"p{p}"] == pytest.approx(exp, rel=1 / 128), p  # 64 sub-buckets/octave


@pytest.mark.parametrize("seed", range(4))
def test_trend_agg_merge_equals_agg_of_union(seed: int) -> None:
    r = np.random.default_rng(seed)
    parts = [r.lognormal(r.uniform(-2, 3), 1, int(r.integers(1, 3000))) for _ in range(5)]
    parts.append(np.array([0.0, -1.0, 1e30, 1e-30]))  # clamped ends and non-positive values
    direct = TrendAgg()
    direct.add(np.concatenate(parts))
    aggs = []
    for p in parts:
        a = TrendAgg()
        a.add(p)
        aggs.append(a)
    merged = TrendAgg()
    for a in reversed(aggs):  # order does not matter
        merged.merge(a)
    assert np.array_equal(merged.idx, direct.idx) and np.array_equal(merged.cnt, direct.cnt)
    assert (merged.count, merged.min, merged.max) == (direct.count, direct.min, direct.max)
    assert merged.sum == pytest.approx(direct.sum)
    assert merged.values(1) == pytest.approx(direct.values(1))
    assert aggs[0].count == len(parts[0])  # merge leaves its argument alone


def test_other_aggs_merge() -> None:
    c1, c2 = CounterAgg(), CounterAgg()
    c1.add(arr(1, 1, 1))
    c2.add(arr(2))
    c1.merge(c2)
    assert c1.values(2.0) == {"count": 5.0, "rate": 2.5}
    r1, r2 = RateAgg(), RateAgg()
    r1.add(arr(1, 0, 0))
    r2.add(arr(5, 0))
    r1.merge(r2)
    assert r1.values(1) == {"rate": 0.4, "passes": 2, "fails": 3, "total": 5}
    g1, g2 = GaugeAgg(), GaugeAgg()
    g1.add(arr(3, 9, 4))
    g2.add(arr(-1, 2))
    g1.merge(g2)  # the later interval's last value wins
    assert g1.values(1) == {"value": 2.0, "min": -1.0, "max": 9.0}
    assert TrendAgg().values(1)["count"] == 0


def test_bucketing_by_record_time_and_scenario() -> None:
    ts = TimeSeries(origin_ns=5 * S)
    a, b = ts.scenario_no("a"), ts.scenario_no("b")
    ts.add(DUR, times(5.1, 5.9, 6.0, 6.5, 8.2) , arr(1, 2, 3, 4, 5),
           np.array([a, b, a, a, b]))
    ts.add(REQS, times(5.1, 5.9, 6.0, 6.5, 8.2), arr(1, 1, 1, 1, 1), a)
    rows = ts.buckets("http_req_duration")
    assert [(t0, t1) for t0, t1, _ in rows] == [(0.0, 1.0), (1.0, 2.0), (3.0, 4.0)]
    assert [v["count"] for _, _, v in rows] == [2, 2, 1]
    assert [v["max"] for _, _, v in rows] == [2.0, 4.0, 5.0]
    assert [v["count"] for _, _, v in ts.buckets("http_req_duration", "a")] == [1, 2, 0]
    assert [v["count"] for _, _, v in ts.buckets("http_reqs", "b")] == [0, 0, 0]
    assert ts.buckets("http_reqs", "zzz")[0][2]["count"] == 0
    assert ts.buckets("never") == []


def test_interval_width_and_counter_rate() -> None:
    ts = TimeSeries(interval_s=0.5)
    ts.add(REQS, times(0.1, 0.2, 0.3, 0.7), arr(1, 1, 1, 1))
    assert ts.buckets("http_reqs") == [(0.0, 0.5, {"count": 3.0, "rate": 6.0}),
                                       (0.5, 1.0, {"count": 1.0, "rate": 2.0})]


def _check_layout(ts: TimeSeries) -> None:
    bs: list[Bucket] = ts._buckets
    assert len(bs) <= ts.max_buckets
    for b in bs:
        assert b.start % (1 << b.level) == 0  # aligned
    for x, y in zip(bs, bs[1:], strict=False):
        assert x.end <= y.start  # sorted and disjoint


def test_downsampling_keeps_totals_and_halves_old_resolution() -> None:
    ts = TimeSeries(max_buckets=16)
    for sec in range(200):  # one batch per second, as the ingest loop would do
        t = times(sec + 0.25, sec + 0.75)
        ts.add(REQS, t, arr(1, 1))
        ts.add(DUR, t, arr(sec, sec + 0.5))
        ts.add(VUS, t[:1], arr(sec))
        _check_layout(ts)
    rows = ts.buckets("http_reqs")
    assert len(rows) <= 16
    assert sum(v["count"] for _, _, v in rows) == 400
    assert rows[0][0] == 0.0 and rows[-1][1] == 200.0
    assert all(a[1] == b[0] for a, b in zip(rows, rows[1:], strict=False))  # no holes
    widths = [t1 - t0 for t0, t1, _ in rows]
    assert widths[-1] == 1.0 and widths[0] > widths[-1]
    assert widths == sorted(widths, reverse=True)  # older = coarser
    for t0, t1, v in ts.buckets("http_req_duration"):
        assert v["count"] == 2 * (t1 - t0)
        assert v["min"] == t0 and v["max"] == t1 - 0.5  # exact union of the merged seconds
    for t0, t1, v in ts.buckets("vus"):
        assert (v["min"], v["max"], v["value"]) == (t0, t1 - 1, t1 - 1)


def test_merged_bucket_equals_direct_aggregate() -> None:
    r = np.random.default_rng(3)
    ts = TimeSeries(max_buckets=4)
    everything = []
    for sec in range(64):
        v = r.lognormal(0, 1, 50)
        everything.append(v)
        ts.add(DUR, np.full(50, sec * S + 1, dtype=np.int64), v)
    rows = ts.buckets("http_req_duration")
    t0, t1, got = rows[0]
    direct = TrendAgg()
    direct.add(np.concatenate(everything[int(t0) : int(t1)]))
    assert got == pytest.approx(direct.values(t1 - t0))


def test_late_records_land_in_the_containing_bucket() -> None:
    ts = TimeSeries(max_buckets=4)
    for sec in range(40):
        ts.add(REQS, times(sec + 0.5), arr(1))
    first = ts.buckets("http_reqs")[0]
    ts.add(REQS, times(first[0] + 0.1), arr(10))  # inside an old, merged interval
    assert ts.buckets("http_reqs")[0][2]["count"] == first[2]["count"] + 10
    assert len(ts) <= 4
    ts.add(REQS, times(-3.5), arr(1))  # before the origin: its own interval, kept sorted
    _check_layout(ts)
    assert sum(v["count"] for _, _, v in ts.buckets("http_reqs")) == 51


def test_sparse_data_compacts_and_validates_arguments() -> None:
    ts = TimeSeries(max_buckets=3)
    for sec in (0, 100, 1000, 5000, 9000):
        ts.add(REQS, times(sec), arr(1))
        _check_layout(ts)
    assert sum(v["count"] for _, _, v in ts.buckets("http_reqs")) == 5
    with pytest.raises(ValueError, match="max_buckets"):
        TimeSeries(max_buckets=1)


def test_trend_agg_index_layout() -> None:
    r = np.random.default_rng(0)
    v = 10.0 ** r.uniform(-11, 17, 100_000)
    agg = TrendAgg()
    idx = agg.index(v)
    m, e = np.frexp(v)
    assert np.array_equal(idx, (e + 40) * 64 + ((m * 2 - 1) * 64).astype(np.int64))
    agg.idx, agg.cnt = idx.astype(np.uint16), np.ones(len(idx), dtype=np.uint32)
    assert np.all(np.abs(agg.midpoints() - v) <= v / 128)
    ends = agg.index(np.array([0.0, -5.0, 1e-300, 5e-324, np.inf, 1e300]))
    assert ends.tolist() == [0, 0, 0, 0, 101 * 64 - 1, 101 * 64 - 1]


def test_a_live_reader_does_work_for_new_intervals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bucket writer asks every second; its cost must not grow with the run's length
    (it used to recompute every interval since the start: O(elapsed) per second)."""
    from loadgen.results.bucket_points import completed_points

    calls = [0]
    real = TrendAgg.values

    def counting(self: TrendAgg, width_s: float) -> dict[str, float]:
        calls[0] += 1
        return real(self, width_s)

    monkeypatch.setattr(TrendAgg, "values", counting)
    ts = TimeSeries(max_buckets=10_000)
    scen = ts.scenario_no("s")

    def second(k: int) -> int:
        ts.add(DUR, times(k + 0.5), arr(1.0 + k % 7), scen)
        calls[0] = 0
        got = list(completed_points(ts, k - 1.0, float(k) + 1.0))
        assert max(t for name, t, _, _ in got if name == "http_req_duration") == k + 1.0
        return calls[0]

    early = [second(k) for k in range(0, 10)]
    for k in range(10, 3000):
        ts.add(DUR, times(k + 0.5), arr(1.0), scen)
    late = [second(k) for k in range(3000, 3010)]
    assert max(early) <= 2 and max(late) <= 2  # was ~3,000: every interval, every second


def test_a_late_sample_reaches_its_interval_and_windows_select_by_overlap() -> None:
    """Aggregates are computed per query (a cache per interval cost more memory than every
    re-read it saved), so a late sample is always seen; since/until pick overlapping ones."""
    ts = TimeSeries()
    ts.add(DUR, times(0.5), arr(5.0))
    assert ts.buckets("http_req_duration")[0][2]["count"] == 1
    ts.add(DUR, times(0.6), arr(50.0))  # a late sample for the same interval
    again = ts.buckets("http_req_duration")
    assert again[0][2]["count"] == 2 and again[0][2]["max"] == 50.0
    assert ts.buckets("http_req_duration", since_s=1.0) == []
    assert len(ts.buckets("http_req_duration", since_s=0.999)) == 1
    ts.add(DUR, times(1.5, 2.5, 3.5), arr(1.0, 2.0, 3.0))
    got = ts.buckets("http_req_duration", since_s=1.0, until_s=3.0)
    assert [(a, b) for a, b, _ in got] == [(1.0, 2.0), (2.0, 3.0)]
    assert [a for a, _, _ in ts.buckets("http_req_duration", until_s=1.5)] == [0.0, 1.0]


def test_bucket_points_skip_intervals_without_samples_of_that_metric_and_scenario() -> None:
    """A closed-model scenario records no iteration_lag: it used to get a zero-count trend
    (count, avg, min, max, p50...p99 all 0) written every second beside the real one."""
    from loadgen.results.bucket_points import completed_points

    lag = Metric("iteration_lag", MetricType.TREND)
    ts = TimeSeries()
    open_model, closed = ts.scenario_no("senders"), ts.scenario_no("receivers")
    for k in range(3):
        ts.add(lag, times(k + 0.5), arr(2.0), open_model)
        ts.add(DUR, times(k + 0.5), arr(9.0), closed)
        ts.add(VUS, times(k + 0.5), arr(5.0), closed)
    rows = list(completed_points(ts, float("-inf"), 3.0))
    seen = {(name, tags.get("scenario")) for name, _, _, tags in rows}
    assert seen == {("iteration_lag", "senders"), ("http_req_duration", "receivers"),
                    ("vus", "receivers")}
    assert len([r for r in rows if r[0] == "iteration_lag"]) == 3 * 8
