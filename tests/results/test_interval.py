"""Interval snapshots merge exactly: a coordinator fed every worker's intervals ends with the
same counts, sums, min/max and percentiles as one store fed all the samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import HTTP, ITER, SAMPLE, tagset
from loadgen.metrics.registry import Registry
from loadgen.metrics.timeseries import TimeSeries
from loadgen.results.interval import (
    UNIT_EXP,
    Interval,
    IntervalError,
    IntervalRecorder,
    apply,
    merge,
    trend_sink,
)

PS = [0, 1, 25, 50, 90, 95, 99, 99.9, 100]
TREND_NAMES = ("http_req_duration", "http_req_waiting", "iteration_duration")


def _records(reg: Registry, rng: np.random.Generator, n: int, t0: int) -> list[tuple]:
    """HTTP records and samples on a few tag sets over ~3 s. Values are multiples of 2**-10
    with few significant bits, so float sums are exact in any order."""
    tags = [tagset(scenario="a", name="top", status="200", expected_response="true"),
            tagset(scenario="a", name="post", status="500", expected_response="false"),
            tagset(scenario="b", name="top", status="200", expected_response="true")]
    dur = np.round(rng.lognormal(2.0, 1.2, n) * 1024) / 1024
    out: list[tuple] = []
    for i in range(n):
        t = t0 + int(i * 3e9 / n)
        tg = tags[int(rng.integers(0, 3))]
        d = float(dur[i])
        out.append((HTTP, t, tg, d, 0.0, 0.0, 0.0, 0.0, d, 0.0, int(tg[2][1] == "post")))
        if i % 3 == 0:
            out.append((SAMPLE, t, reg["iteration_duration"], d * 2, tg))
            out.append((SAMPLE, t, reg["checks"], float(i % 5 != 0),
                        tagset(dict(tg), check="ok")))
            out.append((SAMPLE, t, reg["vus"], float(i % 7), tagset(scenario=dict(tg)["scenario"])))
        if i % 4 == 1:  # an iteration's end: its four samples in one record
            out.append((ITER, t, tg, d * 3, 100 + i % 50, 2000 + i % 7))
        if i % 11 == 2:  # an interrupted iteration's bytes
            out.append((SAMPLE, t, reg["data_sent"], float(i % 13), tg))
    return out


def _store(reg: Registry) -> tuple[Store, TimeSeries]:
    ts = TimeSeries(0)
    st = Store(reg, timeseries=ts, sink_factory=trend_sink)
    st.add_submetric("http_req_duration", "scenario:a", (("scenario", "a"),))
    return st, ts


def _feed_worker(reg: Registry, records: list[tuple], batch: int) -> list[Interval]:
    """A worker: records in ingest batches, a cut every ~second of record time."""
    rec = IntervalRecorder(reg, 0)
    out = []
    next_cut = 1e9
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        rec.ingest(chunk)
        if chunk[-1][1] >= next_cut:
            out.append(rec.cut(next_cut / 1e9))
            next_cut += 1e9
    out.append(rec.cut(next_cut / 1e9))
    return out


def _wire(iv: Interval, reg: Registry) -> Interval:
    types = {n: (m.type, m.contains) for n, m in reg.metrics.items()}
    return Interval.from_json(json.loads(json.dumps(iv.to_json())), types)


@pytest.mark.parametrize(("seed", "n"), [(1, 3000), (2, 16000), (3, 80000), (4, 9000), (5, 70000)])
def test_merged_workers_equal_one_store_fed_everything(seed: int, n: int) -> None:
    reg = Registry()
    rng = np.random.default_rng(seed)
    records = _records(reg, rng, n, 0)
    # one store fed every record directly (the single process)
    single, single_ts = _store(reg)
    for i in range(0, len(records), 500):
        single.ingest(records[i:i + 500])
    # two workers get interleaved halves, their intervals go over the wire and are merged
    split = rng.random(len(records)) < 0.5
    halves = [[r for r, s in zip(records, split, strict=True) if s == w] for w in (True, False)]
    ivs = [_wire(iv, reg) for h, b in zip(halves, (97, 331), strict=True)
           for iv in _feed_worker(reg, h, b)]
    merged, merged_ts = _store(reg)
    for iv in sorted(ivs, key=lambda iv: iv.start_s):
        apply(iv, reg, merged, merged_ts)
    for name in (*TREND_NAMES, "http_req_duration{scenario:a}"):
        a, b = single.get(name), merged.get(name)
        assert isinstance(a, TrendSink) and isinstance(b, TrendSink)
        assert (a.count, a.sum, a.min, a.max) == (b.count, b.sum, b.min, b.max), name
        assert a.exact == b.exact == (a.count <= 10_000)
        assert a.percentiles(PS) == b.percentiles(PS), name
    for name, fields in (("http_reqs", ("count", "n")), ("http_req_failed", ("passes", "total")),
                         ("checks", ("passes", "total")), ("vus", ("min", "max", "n")),
                         ("iterations", ("count", "n")), ("data_sent", ("count", "n")),
                         ("data_received", ("count", "n"))):
        a, b = single.get(name), merged.get(name)
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], name
    # the time series (what verdicts read) is the same interval by interval
    for m in ("http_req_duration", "http_reqs", "http_req_failed", "iteration_duration",
              "iterations"):
        for scen in (None, "a", "b"):
            assert single_ts.buckets(m, scen) == merged_ts.buckets(m, scen)


def test_merge_of_two_intervals_is_exact_and_pure() -> None:
    reg = Registry()
    rng = np.random.default_rng(7)
    recs = _records(reg, rng, 80000, 0)
    ra, rb, rall = IntervalRecorder(reg), IntervalRecorder(reg), IntervalRecorder(reg)
    ra.ingest(recs[::2])
    rb.ingest(recs[1::2])
    rall.ingest(recs)
    ia, ib, iall = ra.cut(3), rb.cut(3), rall.cut(3)
    before = json.dumps(ia.to_json())
    m = merge(ia, ib)
    assert json.dumps(ia.to_json()) == before  # merge does not change its inputs
    key = ("http_req_duration", tagset(scenario="a", name="top", status="200",
                                       expected_response="true"))
    got, want = m.metrics[key], iall.metrics[key]
    assert isinstance(got, TrendSink) and isinstance(want, TrendSink)
    assert not got.exact and not want.exact
    assert (got.count, got.sum, got.min, got.max) == (want.count, want.sum, want.min, want.max)
    for x, y in zip(got.buckets(), want.buckets(), strict=True):
        assert np.array_equal(x, y)


def test_trend_histograms_are_standard_hdr_v2() -> None:
    """Another HDR tool reads the blob: same counts, the fleet's configuration."""
    s = TrendSink(0, UNIT_EXP[reg_contains()])
    vals = np.linspace(0.5, 900.0, 5000)
    s.add_many(vals)
    parts = s.to_parts()
    h = HdrHistogram.decode(parts["pos"].encode())
    assert h.get_total_count() == 5000
    assert (h.lowest_trackable_value, h.significant_figures) == (1, 3)
    p99_units = h.get_value_at_percentile(99)
    assert abs(p99_units * 2.0 ** parts["unit_exp"] / np.percentile(vals, 99) - 1) < 2e-3
    back = TrendSink.from_parts(json.loads(json.dumps(parts)), parts["unit_exp"])
    assert back.percentiles(PS) == s.percentiles(PS)


def reg_contains():  # the unit of time trends (ms)
    return Registry()["http_req_duration"].contains


def test_other_histogram_configurations_are_refused() -> None:
    reg = Registry()
    types = {n: (m.type, m.contains) for n, m in reg.metrics.items()}
    s = TrendSink(0, UNIT_EXP[reg_contains()])
    s.add_many(np.array([1.0, 2.0, 3.0]))
    doc = {"start_s": 0, "end_s": 1, "series": [], "metrics": [
        {"metric": "http_req_duration", "tags": {}, **s.to_parts()}]}
    Interval.from_json(doc, types)
    doc["metrics"][0]["unit_exp"] = -20
    with pytest.raises(IntervalError, match="incompatible histogram configuration"):
        Interval.from_json(doc, types)
    other = HdrHistogram(1, 2**40, 2)
    other.record_value(5000)
    doc["metrics"][0].update(unit_exp=UNIT_EXP[reg_contains()], pos=other.encode().decode())
    with pytest.raises(IntervalError, match="2 significant figures"):
        Interval.from_json(doc, types)
    doc["metrics"][0]["pos"] = "bm90IGhkcg=="
    with pytest.raises(IntervalError, match="malformed"):
        Interval.from_json(doc, types)
    doc["metrics"][0]["metric"] = "nope"
    with pytest.raises(IntervalError, match="not declared"):
        Interval.from_json(doc, types)


def test_checks_keep_their_first_seen_order() -> None:
    """The summary lists checks in the order they were first seen; an interval must keep it
    whatever the tag sets' addresses are."""
    reg = Registry()
    names = ["zeta", "alpha", "mid", "beta", "omega", "gamma"]
    tags = {n: tagset(check=n) for n in names}
    order = sorted(names, key=lambda n: -id(tags[n]))  # against address order
    rec = IntervalRecorder(reg)
    rec.ingest([(SAMPLE, i, reg["checks"], 1.0, tags[n]) for i, n in enumerate(order * 3)])
    iv = rec.cut(1)
    assert [dict(t)["check"] for (m, t) in iv.metrics if m == "checks"] == order


def test_verbatim_values_are_bounded_per_metric_and_merges_stay_exact() -> None:
    """300 tag sets of 500 values each: at most RAW_BUDGET values travel verbatim (memory
    and archive size stay bounded), and the metric still merges to one store's numbers."""
    from loadgen.results.interval import RAW_BUDGET

    reg = Registry()
    m = reg["http_req_waiting"]
    rng = np.random.default_rng(11)
    recs = [(SAMPLE, i, m, float(np.round(rng.lognormal(1, 1) * 1024) / 1024),
             tagset(name=f"u{i % 300}")) for i in range(150_000)]
    rec = IntervalRecorder(reg)
    ivs = []
    for i in range(0, len(recs), 5000):
        rec.ingest(recs[i:i + 5000])
        ivs.append(rec.cut(i))
    raw = sum(s.count for iv in ivs for s in iv.metrics.values()
              if isinstance(s, TrendSink) and s.exact)
    assert RAW_BUDGET - 5000 <= raw <= RAW_BUDGET
    single, _ = _store(reg)
    single.ingest(recs)
    merged, _ = _store(reg)
    for iv in ivs:
        apply(_wire(iv, reg), reg, merged, None)
    a, b = single.get("http_req_waiting"), merged.get("http_req_waiting")
    assert isinstance(a, TrendSink) and isinstance(b, TrendSink)
    assert (a.count, a.min, a.max) == (b.count, b.min, b.max)
    assert a.percentiles(PS) == b.percentiles(PS)
