"""Gauges of several instances merged (archives, a fleet's workers): `vus`/`vus_max` add up
per second, `loadgen_cpu` stays per instance and the summary shows the busiest one."""

from __future__ import annotations

from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Registry
from loadgen.metrics.sinks import GaugeSink
from loadgen.metrics.timeseries import GaugeAgg, TimeSeries
from loadgen.results.instances import InstanceCpu, SummedGauges, tag_instance
from loadgen.results.interval import Interval, apply, interval_store

RUN = tagset({"testid": "t"})


def gauge(*values: float) -> GaugeSink:
    g = GaugeSink()
    for v in values:
        g.add(v)
    return g


def interval(second: int, vus: tuple[float, ...], cpu: float | None = None) -> Interval:
    iv = Interval(second - 1.0, float(second))
    iv.metrics[("vus", RUN)] = gauge(*vus)
    iv.metrics[("vus_max", RUN)] = gauge(max(vus))
    if cpu is not None:
        iv.metrics[("loadgen_cpu", RUN)] = gauge(cpu)
    agg = GaugeAgg()
    agg.last = agg.min = agg.max = vus[-1]
    agg.n = 1
    iv.series[(second - 1, "vus", "")] = agg
    return iv


def merged(instances: list[list[Interval]]) -> tuple[Registry, object, TimeSeries]:
    registry = Registry()
    ts = TimeSeries()
    store = interval_store(registry, ts)
    summed = SummedGauges(registry, store, ts)
    tagged = sorted(((iv.start_s, n, iv) for n, ivs in enumerate(instances) for iv in ivs),
                    key=lambda t: (t[0], t[1]))
    for _, n, iv in tagged:
        summed.take(n, iv)
        apply(iv, registry, store, ts)
    summed.finish()
    return registry, store, ts


def test_vus_of_two_instances_add_up_per_second():
    a = [interval(1, (1, 2)), interval(2, (2,)), interval(3, (0,))]
    b = [interval(1, (3,)), interval(2, (3, 4)), interval(3, (4, 1))]
    registry, store, ts = merged([a, b])
    vus = store.sink(registry["vus"])  # type: ignore[attr-defined]
    assert (vus.value, vus.max) == (1, 6)  # last second 0 + 1; peak 2 + 4
    vus_max = store.sink(registry["vus_max"])  # type: ignore[attr-defined]
    assert vus_max.max == 6
    series = {b.index: b.data for b in ts._buckets}
    assert series[1][("vus", 0)].last == 6  # the time series sums too


def test_an_instance_that_ended_counts_at_its_last_value():
    a = [interval(1, (2,))]
    b = [interval(1, (3,)), interval(2, (5,))]
    registry, store, _ = merged([a, b])
    assert store.sink(registry["vus"]).value == 7  # type: ignore[attr-defined]


def test_one_instance_alone_keeps_its_own_gauge_exactly():
    ivs = [interval(1, (1, 5, 2)), interval(2, (3, 0)), interval(3, (4,))]
    registry, store, _ = merged([ivs])
    plain_registry = Registry()
    plain = interval_store(plain_registry, None)
    for iv in [interval(1, (1, 5, 2)), interval(2, (3, 0)), interval(3, (4,))]:
        apply(iv, plain_registry, plain, None)
    got, want = store.sink(registry["vus"]), plain.sink(plain_registry["vus"])  # type: ignore[attr-defined]
    assert (got.value, got.min, got.max) == (want.value, want.min, want.max) == (4, 0, 5)


def test_the_summary_cpu_is_the_busiest_instances_not_the_last_reported():
    registry = Registry()
    store = interval_store(registry, None)
    cpu = InstanceCpu()
    for second, worker, value in [(1, "0", 0.9), (1, "1", 0.2), (2, "0", 0.8), (2, "1", 0.3)]:
        iv = Interval(second - 1.0, float(second))
        iv.metrics[("loadgen_cpu", RUN)] = gauge(value)
        tag_instance(iv, worker)
        assert [dict(t)["instance"] for n, t in iv.metrics] == [worker]
        cpu.take(iv, "")
        apply(iv, registry, store, None)
    section = cpu.apply(store, registry)
    sink = store.sink(registry["loadgen_cpu"])
    assert (sink.value, sink.max) == (0.8, 0.9)  # worker 0's; worker 1 reported last (0.3)
    assert section["loadgen_cpu"]["busiest"] == "instance 0"
    assert section["loadgen_cpu"]["by_instance"]["instance 1"]["max"] == 0.3


def test_a_fleet_coordinators_own_cpu_is_listed_but_not_the_busiest_worker():
    registry = Registry()
    store = interval_store(registry, None)
    cpu = InstanceCpu()
    iv = Interval(0.0, 1.0)
    iv.metrics[("loadgen_cpu", tagset({"instance": "coordinator"}))] = gauge(0.95)
    iv.metrics[("loadgen_cpu", tagset({"instance": "0"}))] = gauge(0.5)
    cpu.take(iv, "a.ndjson")
    apply(iv, registry, store, None)
    section = cpu.apply(store, registry)["loadgen_cpu"]
    assert section["busiest"] == "a.ndjson instance 0"
    assert section["by_instance"]["a.ndjson instance coordinator"]["max"] == 0.95
    assert store.sink(registry["loadgen_cpu"]).value == 0.5
