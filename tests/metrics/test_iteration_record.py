"""An iteration's end is one ITER record, and everything that reads records makes of it the
same four samples (iteration_duration, iterations, data_sent, data_received) the VU's own
numbers say: the store's sinks (the summary), its raw points (NDJSON), the fleet's interval
snapshots, and a real run's summary and `-o json` file."""

from __future__ import annotations

import gc
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fakes import Harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/servers.py

from servers import serve  # noqa: E402

import loadgen  # noqa: E402
from loadgen import VU, Scenario, SharedIterations  # noqa: E402
from loadgen.metrics.histogram import TrendSink  # noqa: E402
from loadgen.metrics.ingest import Point, Store  # noqa: E402
from loadgen.metrics.model import HTTP, ITER, ITER_METRICS, SAMPLE, tagset  # noqa: E402
from loadgen.metrics.registry import Recorder, Registry  # noqa: E402
from loadgen.metrics.timeseries import TimeSeries  # noqa: E402
from loadgen.results.interval import IntervalRecorder, apply, trend_sink  # noqa: E402
from loadgen.results.ndjson import NdjsonWriter  # noqa: E402

N = 24


def own_scenario() -> type[Scenario]:
    """A scenario that writes down, at the end of each iteration, what the VU itself knows:
    when the iteration started and ended (fake clock: exactly the runtime's t0 and t1) and
    the wire bytes since the last iteration end."""

    class Own(Scenario):
        name = "own"
        seen: ClassVar[list[tuple[float, int, int, int]]] = []

        async def iteration(self, vu: VU) -> None:
            clock = vu.rt.clock
            t0 = clock.now_ns()
            r = await vu.http.get(f"/x/{vu.iteration}")
            vu.check(r, {"status is 200": lambda r: r.status == 200})
            await vu.sleep(0.001 * (vu.iteration % 4))
            t1 = clock.now_ns()
            Own.seen.append(((t1 - t0) / 1e6, vu.bytes_sent, vu.bytes_received, t1))

    return Own


async def run_fake() -> tuple[Harness, list[tuple[float, int, int, int]]]:
    h = Harness()
    cls = own_scenario()
    await h.run((cls, SharedIterations(vus=3, iterations=N, max_duration="10s")))
    return h, cls.seen  # type: ignore[attr-defined]


async def test_one_record_per_iteration_end_and_the_vus_own_numbers_in_every_output() -> None:
    h, seen = await run_fake()
    assert len(seen) == N
    kinds = Counter(r[0] for r in h.records)
    assert kinds[ITER] == N and kinds[HTTP] == N
    samples = [r for r in h.records if r[0] == SAMPLE]
    assert not [r for r in samples if r[2].name in ITER_METRICS]  # nothing else emits them
    assert Counter(r[2].name for r in samples)["checks"] == N
    assert {r[2].name for r in samples} <= {"checks", "vus", "vus_max"}
    assert all(b_sent > 0 and b_recv > 0 for _, b_sent, b_recv, _ in seen)

    # by end time, each iteration's reference: its four samples, in the record's order
    ref = sorted(seen, key=lambda s: s[3])
    ref_values = {
        "iteration_duration": [d for d, *_ in ref], "iterations": [1.0] * N,
        "data_sent": [float(s) for _, s, _, _ in ref],
        "data_received": [float(r) for _, _, r, _ in ref],
    }
    points: list[Point] = []
    store = Store(h.registry)
    store.add_point_hook(points.extend)
    for i in range(0, len(h.records), 7):  # ingest batches mixing the three kinds
        store.ingest(h.records[i:i + 7])
    iters = [p for p in points if p[0].name in ITER_METRICS]
    assert [p[0].name for p in iters] == list(ITER_METRICS) * N  # order within an iteration
    for name, want in ref_values.items():
        got = sorted((p[1], p[2]) for p in iters if p[0].name == name)
        assert [v for _, v in got] == want, name
        assert [t for t, _ in got] == [s[3] for s in ref], name
    tags = {p[3] for p in iters}
    assert len(tags) == 1 and dict(next(iter(tags)))["scenario"] == "own"

    # the summary's numbers (the store's sinks)
    assert store.get("iterations").aggregate("count", 1) == N  # type: ignore[union-attr]
    for name in ("data_sent", "data_received"):
        assert store.get(name).aggregate("count", 1) == sum(ref_values[name])  # type: ignore[union-attr]
    dur = store.get("iteration_duration")
    assert dur is not None
    durs = ref_values["iteration_duration"]
    assert (dur.aggregate("count", 1), dur.aggregate("min", 1), dur.aggregate("max", 1)) == (
        N, min(durs), max(durs))
    assert dur.aggregate("avg", 1) == pytest.approx(sum(durs) / N)

    # NDJSON lines of those points
    buf = io.BytesIO()
    w = NdjsonWriter(buf)
    for m, t, v, tg in iters:
        w.sample(m, t, v, tg)
    w.flush()
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    nd = [x["data"]["value"] for x in lines if x["type"] == "Point"
          and x["metric"] == "data_received"]
    assert sorted(nd) == sorted(ref_values["data_received"])

    # the fleet's interval snapshot fed into another store says the same
    rec = IntervalRecorder(h.registry, 0)
    rec.ingest(h.records)
    merged = Store(Registry())
    apply(rec.cut(1e9), merged.registry, merged, None)
    for name in ("iterations", "data_sent", "data_received", "iteration_duration"):
        assert (merged.get(name).aggregate("count", 1)  # type: ignore[union-attr]
                == store.get(name).aggregate("count", 1)), name  # type: ignore[union-attr]
    assert merged.get("iteration_duration").aggregate("max", 1) == max(durs)  # type: ignore[union-attr]


async def test_tally_hooks_see_iteration_metrics_in_batch_order() -> None:
    """A tally hook on an iteration metric is called once per batch, with the tag sets in
    the order the batch first shows them, whatever the kind of record that carried them."""
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    got: list[list[tuple[int, str, dict[str, str], int, int]]] = []
    store.add_tally_hook([reg["data_sent"], reg["checks"]], lambda ts: got.append(
        [(p, m.name, dict(tg), nz, n) for p, m, tg, nz, n in ts]))
    a, b = tagset(scenario="a"), tagset(scenario="b")
    rec.sample(reg["checks"], 1.0, b, 1)
    rec.iteration(2, a, 1.0, 10, 5)
    rec.sample(reg["data_sent"], 0.0, b, 3)  # an interrupted iteration's bytes
    rec.iteration(4, b, 2.0, 7, 5)
    store.ingest(rec.drain())
    assert got == [[(0, "checks", {"scenario": "b"}, 1, 1),
                    (1, "data_sent", {"scenario": "a"}, 1, 1),
                    (2, "data_sent", {"scenario": "b"}, 1, 2)]]


def test_an_iter_record_is_untracked_by_one_young_collection_a_sample_record_is_not() -> None:
    reg, rec = Registry(), Recorder()
    tags = tagset(scenario="gc", group="", n=str(time.perf_counter_ns()))  # a new tag set
    assert not gc.is_tracked(tags)  # no cycle is possible through strings: out at once
    rec.iteration(time.perf_counter_ns(), tags, 1.25, 100, 2000)
    rec.sample(reg["checks"], 1.0, tags, time.perf_counter_ns())
    rec.http(time.perf_counter_ns(), tags, 1.0, 0.0, 0.0, 0.0, 0.1, 0.8, 0.1, None)
    it, sample, http = rec.records
    assert gc.is_tracked(it) and gc.is_tracked(sample)  # every new tuple starts tracked
    gc.collect(0)
    assert not gc.is_tracked(it) and not gc.is_tracked(http)
    assert gc.is_tracked(sample)  # it holds a Metric


class RealOwn(Scenario):
    name = "real"
    seen: ClassVar[list[tuple[int, int, int]]] = []
    tracked: ClassVar[list[bool]] = []

    async def iteration(self, vu: VU) -> None:
        t0 = time.perf_counter_ns()
        r = await vu.http.get("/")
        vu.check(r, {"ok": lambda r: r.status == 200})
        RealOwn.tracked.append(gc.is_tracked(vu.sample_tags))
        RealOwn.seen.append((time.perf_counter_ns() - t0, vu.bytes_sent, vu.bytes_received))


def test_a_real_run_summary_and_ndjson_hold_the_vus_own_numbers(tmp_path: Path) -> None:
    RealOwn.seen.clear()
    RealOwn.tracked.clear()
    out = tmp_path / "points.ndjson"
    with serve() as url:
        r = loadgen.run(RealOwn, vus=2, iterations=N, base_url=url, out=[f"json={out}"])
    assert r.exit_code == 0, r.explain()
    assert len(RealOwn.seen) == N
    assert not any(RealOwn.tracked)  # so neither are the ITER records holding them
    values: dict[str, Any] = {k: r.metrics[k]["values"] for k in ITER_METRICS}
    assert values["iterations"]["count"] == N
    assert values["data_sent"]["count"] == sum(s for _, s, _ in RealOwn.seen) > 0
    assert values["data_received"]["count"] == sum(v for _, _, v in RealOwn.seen) > 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    pts: dict[str, list[float]] = {}
    for x in lines:
        if x["type"] == "Point" and x["metric"] in ITER_METRICS:
            assert x["data"]["tags"]["scenario"] == "real"
            pts.setdefault(x["metric"], []).append(x["data"]["value"])
    assert pts["iterations"] == [1.0] * N
    assert sorted(pts["data_sent"]) == sorted(float(s) for _, s, _ in RealOwn.seen)
    assert sorted(pts["data_received"]) == sorted(float(v) for _, _, v in RealOwn.seen)
    # the runtime's clock brackets the VU's own: each iteration lasted at least that long
    own = sorted(d / 1e6 for d, _, _ in RealOwn.seen)
    got = sorted(pts["iteration_duration"])
    assert len(got) == N and all(g >= o for g, o in zip(got, own, strict=True))
    assert values["iteration_duration"]["max"] == got[-1]


def test_a_tag_set_holding_a_str_subclass_stays_tracked() -> None:
    """Only exact strings are certain to hold no reference back: a str subclass whose
    instance has a __dict__ can close a cycle through the tag set, so it stays collectable."""

    class Loop(str):
        def __str__(self) -> str:
            return self  # str() keeps the subclass instance

    value = Loop("v")
    tags = tagset(k=value)
    value.__dict__["back"] = tags  # a cycle: tags -> pair -> value -> tags
    assert type(tags[0][1]) is Loop
    assert gc.is_tracked(tags)


def test_a_batch_whose_probes_agree_but_one_row_differs_is_still_split() -> None:
    """The one-metric / one-tag-set shortcut probes the first, middle and last rows: a batch
    where those agree and another row differs must still be split by metric and tag set."""
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    a, b = tagset(scenario="a"), tagset(scenario="b")
    sub = store.add_submetric("checks", "scenario:b", (("scenario", "b"),))
    lat = reg.define("lat_probe", reg["iteration_duration"].type)
    # rows 0, 2, 4: checks on a; row 1: another metric; row 3: checks on b
    rec.sample(reg["checks"], 1.0, a, 0)
    rec.sample(lat, 7.0, a, 1)
    rec.sample(reg["checks"], 0.0, a, 2)
    rec.sample(reg["checks"], 0.0, b, 3)
    rec.sample(reg["checks"], 1.0, a, 4)
    store.ingest(rec.drain())
    checks, lat_sink, sub_sink = store.get("checks"), store.get("lat_probe"), store.existing(sub)
    assert (checks.total, checks.passes) == (4, 2)  # type: ignore[union-attr]
    assert lat_sink is not None and lat_sink.aggregate("count", 1) == 1
    assert (sub_sink.total, sub_sink.passes) == (1, 0)  # type: ignore[union-attr]


def test_interval_snapshot_of_one_metric_one_tag_set_batches_equals_the_store() -> None:
    """The interval recorder's shortcut for a batch of one metric on one tag set (an
    arrival-rate scenario's iteration_lag between iteration ends, say) keeps every value
    and time: the same sink and time series as a store fed the records."""
    reg, rec = Registry(), Recorder()
    tags = tagset(scenario="s", group="")
    direct = Store(reg, timeseries=TimeSeries(0), sink_factory=trend_sink)
    intervals = IntervalRecorder(reg, 0)
    for batch in range(6):
        for i in range(40):
            t = batch * 300_000_000 + i * 7_000_000
            rec.sample(reg["iteration_lag"], (i * 37 + batch) % 101 / 8, tags, t)
        recs = rec.drain()
        direct.ingest(recs)
        intervals.ingest(recs)
    merged = Store(Registry(), timeseries=TimeSeries(0), sink_factory=trend_sink)
    apply(intervals.cut(2.0), merged.registry, merged, merged.timeseries)
    a, b = direct.get("iteration_lag"), merged.get("iteration_lag")
    assert isinstance(a, TrendSink) and isinstance(b, TrendSink)
    assert (a.count, a.sum, a.min, a.max) == (b.count, b.sum, b.min, b.max)
    assert a.count == 240
    series = direct.timeseries.buckets("iteration_lag", "s")  # type: ignore[union-attr]
    assert len(series) == 2
    assert series == merged.timeseries.buckets("iteration_lag", "s")  # type: ignore[union-attr]
