"""Store.ingest: HTTP/SAMPLE record expansion, sub-metric routing, raw points."""

from __future__ import annotations

import random

import numpy as np
import pytest

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.ingest import Point, Store
from loadgen.metrics.model import ITER_METRICS, MetricType, SubMetric, TagSet, tagset
from loadgen.metrics.registry import HTTP_TIMING_METRICS, Recorder, Registry
from loadgen.metrics.sinks import CounterSink, ExactTrendSink, GaugeSink, RateSink
from loadgen.metrics.timeseries import TimeSeries

OK = tagset(status="200", method="GET", group="", scenario="s1", expected_response="true")
NOT_FOUND = tagset(status="404", method="GET", group="::front", scenario="s1",
                   expected_response="false")
POST = tagset(status="200", method="POST", group="::front::nested", scenario="s2",
              expected_response="true")
NO_CALLBACK = tagset(status="200", method="GET", group="", scenario="s1")


def http(rec: Recorder, tags: TagSet, duration: float, failed: int | None = 0,
         t_ns: int = 0) -> None:
    """One request; timing j (in HTTP_TIMING_METRICS order) is duration + j/10."""
    rec.http(t_ns, tags, duration, duration + 0.1, duration + 0.2, duration + 0.3,
             duration + 0.4, duration + 0.5, duration + 0.6, failed)


def trend(store: Store, name: str) -> TrendSink:
    sink = store.get(name)
    assert isinstance(sink, TrendSink), name
    return sink


def test_http_records_expand_into_all_builtin_samples() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    for i in range(10):
        http(rec, OK if i % 2 else NOT_FOUND, float(i), failed=0 if i % 2 else 1)
    http(rec, NO_CALLBACK, 100.0, failed=None)
    store.ingest(rec.drain())
    reqs = store.get("http_reqs")
    assert isinstance(reqs, CounterSink) and reqs.count == 11
    for j, name in enumerate(HTTP_TIMING_METRICS):
        sink = trend(store, name)
        assert sink.count == 11
        assert sink.min == pytest.approx(j / 10)
        assert sink.max == pytest.approx(100 + j / 10)
    failed = store.get("http_req_failed")
    assert isinstance(failed, RateSink)
    assert (failed.total, failed.passes) == (10, 5)  # the no-callback request has none
    assert store.records_ingested == 11


def test_failed_none_for_every_request_gives_no_rate_samples() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    http(rec, NO_CALLBACK, 1.0, failed=None)
    store.ingest(rec.drain())
    assert not store.observed(reg["http_req_failed"])
    assert store.observed(reg["http_req_duration"])


def test_sample_records_by_metric_keep_record_order() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    gauge = reg.define("queue_depth", MetricType.GAUGE)
    custom = reg.define("custom_trend", MetricType.TREND)
    it, checks = reg["iterations"], reg["checks"]
    tags = tagset(scenario="s1")
    for i in range(50):
        rec.sample(gauge, float(50 - i), tags, i)
        rec.sample(it, 1.0, tags, i)
        rec.sample(custom, -i / 4, tags, i)
        rec.sample(checks, float(i % 3 != 0), tags, i)
    http(rec, OK, 3.0)  # mixed batch
    store.ingest(rec.drain())
    g = store.get("queue_depth")
    assert isinstance(g, GaugeSink) and (g.value, g.min, g.max) == (1.0, 1.0, 50.0)
    c = store.get("iterations")
    assert isinstance(c, CounterSink) and c.count == 50
    ref = ExactTrendSink()
    ref.add_many(np.array([-i / 4 for i in range(50)]))
    for stat in ("avg", "med", "min", "max", "p(90)"):
        assert trend(store, "custom_trend").aggregate(stat, 1) == ref.aggregate(stat, 1)
    r = store.get("checks")
    assert isinstance(r, RateSink) and (r.passes, r.total) == (33, 50)
    assert trend(store, "http_req_duration").count == 1


def test_submetric_matching_multi_tag_empty_value_and_exact_group() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    dur, reqs = reg["http_req_duration"], reg["http_reqs"]
    s200 = store.add_submetric(dur, "status:200", (("status", "200"),))
    get200 = store.add_submetric(reqs, "status:200,method:GET",
                                 (("status", "200"), ("method", "GET")))
    top = store.add_submetric(reqs, "group:", (("group", ""),))
    front = store.add_submetric(reqs, "group:::front", (("group", "::front"),))
    nope = store.add_submetric(dur, "scenario:nope", (("scenario", "nope"),))
    http(rec, OK, 1.0)
    http(rec, OK, 2.0)
    http(rec, NOT_FOUND, 3.0)
    http(rec, POST, 4.0)
    http(rec, tagset(status="200", method="GET"), 5.0)  # no group tag: `{group:}` ignores it
    store.ingest(rec.drain())
    assert trend(store, s200.name).count == 4
    assert trend(store, s200.name).max == 5.0

    def count(sub: SubMetric) -> float:
        sink = store.sink(sub)
        assert isinstance(sink, CounterSink)
        return sink.count

    assert count(get200) == 3
    assert count(top) == 2
    assert count(front) == 1  # `::front::nested` is not aggregated into `::front`
    assert store.get(nope.name) is None or store.get(nope.name).empty  # type: ignore[union-attr]
    assert not store.observed(nope)


def test_add_submetric_is_idempotent_per_tag_set() -> None:
    reg = Registry()
    store = Store(reg)
    a = store.add_submetric("http_req_duration", "status:200", (("status", "200"),))
    b = store.add_submetric(reg["http_req_duration"], ' status : "200" ', (("status", "200"),))
    assert a is b and reg["http_req_duration"].submetrics == [a]
    assert store.target('http_req_duration{status : "200"}') is a
    assert store.target("http_req_duration{status:200}") is a
    assert store.target("http_req_duration") is reg["http_req_duration"]
    assert store.target("nope") is None and store.get("http_req_waiting") is None


def test_expected_response_submetric_created_by_first_tagged_request() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    name = "http_req_duration{expected_response:true}"
    http(rec, NO_CALLBACK, 1.0, failed=None)
    store.ingest(rec.drain())
    assert store.target(name) is None  # no request carried the tag yet
    http(rec, NOT_FOUND, 7.0, failed=1)
    http(rec, OK, 2.0)
    store.ingest(rec.drain())
    sub = store.target(name)
    assert isinstance(sub, SubMetric) and sub.tags == (("expected_response", "true"),)
    assert trend(store, name).count == 1 and trend(store, name).max == 2.0
    assert [s.name for s in reg["http_req_duration"].submetrics] == [name]
    store.ingest([])  # no-op


def test_equal_but_not_identical_tag_tuples() -> None:
    reg = Registry()
    store = Store(reg)
    sub = store.add_submetric("http_reqs", "status:404", (("status", "404"),))
    t1 = (("status", "404"),)
    t2 = tuple([("status", "404")])
    recs: list[tuple[object, ...]] = [
        (1, 0, t, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1) for t in (t1, t2, t1)]
    store.ingest(recs)
    s = store.sink(sub)
    assert isinstance(s, CounterSink) and s.count == 3


def test_point_hook_gets_raw_samples_in_k6_order() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    got: list[list[Point]] = []
    store.add_point_hook(got.append)
    vus = reg["vus"]
    rec.sample(vus, 3.0, (), 5)
    http(rec, OK, 1.0, failed=0, t_ns=7)
    http(rec, NO_CALLBACK, 2.0, failed=None, t_ns=8)
    store.ingest(rec.drain())
    (pts,) = got
    names = [p[0].name for p in pts]
    assert names == ["vus", "http_reqs", *HTTP_TIMING_METRICS, "http_req_failed",
                     "http_reqs", *HTTP_TIMING_METRICS]
    assert pts[0] == (vus, 5, 3.0, ())
    assert pts[2] == (reg["http_req_duration"], 7, 1.0, OK)
    assert pts[9] == (reg["http_req_failed"], 7, 0.0, OK)
    store.remove_point_hook(got.append)
    http(rec, OK, 1.0)
    store.ingest(rec.drain())
    assert len(got) == 1


def test_points_not_built_without_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(Registry())

    def boom(*_: object) -> list[Point]:
        raise AssertionError("points built without a hook")

    monkeypatch.setattr(store, "points", boom)
    rec = Recorder()
    http(rec, OK, 1.0)
    store.ingest(rec.drain())


def test_random_batches_agree_with_a_naive_reference() -> None:
    """Every sink equals what a per-sample loop into exact sinks gives (small run: exact)."""
    reg, rec, rng = Registry(), Recorder(), random.Random(7)
    store = Store(reg)
    subs = [
        store.add_submetric("http_req_duration", "status:200", (("status", "200"),)),
        store.add_submetric("http_req_waiting", "scenario:s2", (("scenario", "s2"),)),
        store.add_submetric("iteration_duration", "scenario:s1", (("scenario", "s1"),)),
        store.add_submetric("http_req_failed", "method:GET", (("method", "GET"),)),
    ]
    custom = reg.define("lat", MetricType.TREND)
    every = (OK, NOT_FOUND, POST, NO_CALLBACK)
    ref: dict[str, list[float]] = {}

    auto = "http_req_duration{expected_response:true}"

    def expect(name: str, tags: TagSet, v: float) -> None:
        ref.setdefault(name, []).append(v)
        for sub in subs:
            if sub.parent.name == name and sub.matches(tags):
                ref.setdefault(sub.name, []).append(v)
        if name == "http_req_duration" and ("expected_response", "true") in tags:
            ref.setdefault(auto, []).append(v)

    for _batch in range(30):
        for _ in range(rng.randrange(0, 120)):
            tags = rng.choice(every)
            if rng.random() < 0.6:
                d = rng.lognormvariate(0, 1)
                failed = None if tags is NO_CALLBACK else int(tags is NOT_FOUND)
                http(rec, tags, d, failed)
                expect("http_reqs", tags, 1.0)
                for j, name in enumerate(HTTP_TIMING_METRICS):
                    expect(name, tags, d + j / 10)
                if failed is not None:
                    expect("http_req_failed", tags, float(failed))
            elif rng.random() < 0.5:  # an iteration's end: four samples in one record
                d, sent, got = rng.uniform(0, 50), rng.randrange(0, 900), rng.randrange(0, 9000)
                rec.iteration(0, tags, d, sent, got)
                for name, v in zip(ITER_METRICS, (d, 1.0, sent, got), strict=True):
                    expect(name, tags, float(v))
            else:
                m = rng.choice([reg["iteration_duration"], custom, reg["iterations"],
                                reg["data_sent"]])
                v = 1.0 if m.name == "iterations" else rng.uniform(-5, 50)
                rec.sample(m, v, tags, 0)
                expect(m.name, tags, v)
        store.ingest(rec.drain())
    assert all(store.observed(s) for s in subs)
    for name, values in ref.items():
        sink = store.get(name)
        assert sink is not None, name
        m = store.target(name)
        mtype = m.parent.type if isinstance(m, SubMetric) else m.type  # type: ignore[union-attr]
        if mtype is MetricType.TREND:
            exact = ExactTrendSink()
            exact.add_many(np.array(values))
            for stat in ("count", "min", "max", "med", "p(95)"):
                assert sink.aggregate(stat, 1) == exact.aggregate(stat, 1), (name, stat)
            assert sink.aggregate("avg", 1) == pytest.approx(exact.aggregate("avg", 1))
        elif mtype is MetricType.COUNTER:
            assert sink.aggregate("count", 1) == pytest.approx(sum(values)), name
        else:
            assert isinstance(sink, RateSink)
            assert (sink.total, sink.passes) == (len(values), sum(1 for v in values if v))


def test_ingest_feeds_time_series_per_scenario() -> None:
    reg, rec = Registry(), Recorder()
    ts = TimeSeries(origin_ns=10**9, extra=["lat"])
    store = Store(reg, timeseries=ts)
    lat = reg.define("lat", MetricType.TREND)
    for i in range(20):
        t = 10**9 + i * 100_000_000  # 0.0 .. 1.9 s after origin
        http(rec, OK if i % 2 else POST, float(i), t_ns=t)
        rec.sample(lat, float(i), OK, t)
    store.ingest(rec.drain())
    assert set(ts.scenarios()) == {"s1", "s2"}
    rows = ts.buckets("http_reqs")
    assert [(a, b, v["count"]) for a, b, v in rows] == [(0.0, 1.0, 10), (1.0, 2.0, 10)]
    s1 = ts.buckets("http_req_duration", "s1")
    assert [v["count"] for _, _, v in s1] == [5, 5]
    assert s1[0][2]["min"] == 1.0 and s1[1][2]["max"] == 19.0
    assert [v["count"] for _, _, v in ts.buckets("lat")] == [10, 10]
    failed = ts.buckets("http_req_failed")
    assert failed[0][2]["total"] == 10
    assert ts.buckets("http_req_blocked") == []  # not tracked
